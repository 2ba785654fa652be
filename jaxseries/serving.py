"""A trained forecaster as an artifact to serve: `export(run, path)` writes the network as a `jax.export`-serialized
function (StableHLO, for CPU, CUDA and TPU) beside the run's metadata (its spec, per-series statistics and the
rows a forecast reads); `load(path).forecast(...)` forecasts from it with jax, NumPy and pandas only: flax, optax
and orbax are never imported (a test blocks them). The forecast is `js.forecast`'s, same arguments, same frame.

The CPU kernel's custom calls carry no compatibility guarantee and `jax.export` refuses them, so the exported
network runs its recurrence on XLA's scan (the same numbers to float tolerance, `tests/test_kernel.py`).
"""

from __future__ import annotations

import json
import os
from unittest import mock

import jax
import numpy as np

FORMAT = 1
NETWORK, META = "network.stablehlo", "forecaster.json"
PLATFORMS = ("cpu", "cuda", "tpu")


def export(run, path) -> str:
    """Writes `run` (from `train_series`, or `js.load` of one) to the new directory `path`; returns its path."""
    from jaxseries import __version__
    from jaxseries.forecasting import panel_spec
    from jaxseries.model import LSTMRegressor

    path = os.fspath(path)
    if os.path.exists(path):
        raise ValueError(f"export path {path!r} exists: pass a new directory (nothing was written)")
    if "panel" not in getattr(run, "extra", {}):
        raise ValueError("export takes a forecaster from js.train_series (or js.load of one); this run has no "
                         "series spec")
    spec = panel_spec(run)
    if spec.mode == "local" or spec.strategy == "recursive":
        raise ValueError(f"export serves one global direct model; this run is mode={spec.mode!r}, "
                         f"strategy={spec.strategy!r}: train it with the defaults to serve it")
    apply = LSTMRegressor(run.model_config).apply
    network = ((lambda x: jax.vmap(apply, in_axes=(0, None))(run.params, x)) if hasattr(run, "member")
               else (lambda x: apply(run.params, x)))
    windows = jax.ShapeDtypeStruct((jax.export.symbolic_shape("n")[0], spec.context + spec.horizon,
                                    run.model_config.input_dim), np.float32)
    with mock.patch.dict(os.environ, {"JAXSERIES_KERNEL": "0"}):  # the scan: a kernel custom call cannot be serialized
        serialized = jax.export.export(jax.jit(network), platforms=PLATFORMS)(windows).serialize()
    os.makedirs(path)
    with open(os.path.join(path, NETWORK), "wb") as file:
        file.write(serialized)
    meta = {"format": FORMAT, "jaxseries": __version__, "jax": jax.__version__, "recurrence": "scan",
            "platforms": list(PLATFORMS), "extra": run.extra}
    with open(os.path.join(path, META), "w") as file:
        json.dump(meta, file)
    return path


class Served:
    """An exported forecaster: `forecast` takes `js.forecast`'s arguments (data, horizon, future, level,
    quantiles, calibration, alias) and returns its frame."""

    def __init__(self, meta: dict, network):
        self.extra, self.network, self.meta = meta["extra"], network, meta

    def predict(self, x) -> np.ndarray:
        return np.asarray(self.network.call(np.asarray(x, np.float32)))

    def forecast(self, **options):
        from jaxseries.forecasts import forecast

        return forecast(self, **options)


def load(path) -> Served:
    """The forecaster `export` wrote at `path`; refuses an artifact of another format or jaxseries version."""
    from jaxseries import __version__

    path = os.fspath(path)
    try:
        with open(os.path.join(path, META)) as file:
            meta = json.load(file)
        with open(os.path.join(path, NETWORK), "rb") as file:
            network = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path!r} holds no exported forecaster ({META} and {NETWORK}): "
                                "write one with js.export(run, path)") from None
    if meta.get("format") != FORMAT or meta.get("jaxseries") != __version__:
        raise ValueError(f"{path!r} was exported by jaxseries {meta.get('jaxseries')} (format {meta.get('format')}); "
                         f"this is jaxseries {__version__} (format {FORMAT}): export the run again with this version")
    return Served(meta, jax.export.deserialize(bytearray(network)))
