"""Serving: `js.export` writes a forecaster that `jaxseries.serving.load` forecasts from without the training stack,
equal to `js.forecast` on the same history; bad exports and foreign artifacts are refused before anything is written."""

import json
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import serving
from test_panel import FAST, make_panel

PANEL = dict(lengths=(30, 34, 38, 42) * 5)  # enough validation windows for an 80% interval

SERVE = """
import sys
for blocked in ("flax", "optax", "orbax", "orbax.checkpoint"):  # the training stack: importing any of them fails
    sys.modules[blocked] = None
import pandas as pd
from jaxseries import serving
served = serving.load(sys.argv[1])
served.forecast(level=[80], quantiles=[0.1, 0.9]).to_csv(sys.argv[2], index=False)
served.forecast(data=pd.read_csv(sys.argv[3], parse_dates=["ds"])).to_csv(sys.argv[4], index=False)
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    run = js.train_series(make_panel(**PANEL), id="unique_id", holdout=4, members=2, **FAST)
    path = tmp_path_factory.mktemp("served") / "forecaster"
    return run, js.export(run, path)


def test_a_served_forecast_equals_js_forecast_without_flax_optax_or_orbax(exported, tmp_path):
    run, path = exported
    newer = make_panel(lengths=(36, 44), seed=3)  # new history, one series never seen
    newer.loc[newer.unique_id == "s1", "unique_id"] = "fresh"
    newer.to_csv(tmp_path / "newer.csv", index=False)
    done = subprocess.run([sys.executable, "-c", SERVE, path, tmp_path / "stored.csv", tmp_path / "newer.csv",
                           tmp_path / "from_new.csv"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    served = pd.read_csv(tmp_path / "stored.csv", parse_dates=["ds"])
    expected = js.forecast(run, level=[80], quantiles=[0.1, 0.9])
    assert list(served.columns) == list(expected.columns)
    np.testing.assert_allclose(served.iloc[:, 2:], expected.iloc[:, 2:], rtol=1e-5)
    from_new = pd.read_csv(tmp_path / "from_new.csv", parse_dates=["ds"])
    np.testing.assert_allclose(from_new.forecast, js.forecast(run, data=newer).forecast, rtol=1e-5)


def test_the_artifact_is_stablehlo_for_cpu_gpu_and_tpu_on_the_scan(exported):
    _, path = exported
    with open(f"{path}/{serving.NETWORK}", "rb") as file:
        network = jax.export.deserialize(bytearray(file.read()))
    assert network.platforms == ("cpu", "cuda", "tpu")
    assert "JaxseriesLstm" not in network.mlir_module()
    assert json.load(open(f"{path}/{serving.META}"))["recurrence"] == "scan"


def test_bad_exports_and_foreign_artifacts_are_refused(exported, tmp_path):
    run, path = exported
    with pytest.raises(ValueError, match="exists: pass a new directory"):
        js.export(run, path)
    local = js.train_series(make_panel(), id="unique_id", mode="local", **FAST)
    with pytest.raises(ValueError, match="mode='local'"):
        js.export(local, tmp_path / "local")
    assert not (tmp_path / "local").exists()
    with pytest.raises(ValueError, match="no series spec"):
        js.export(js.train(np.zeros((4, 3, 1), np.float32), np.zeros((4, 3), np.float32), steps=2, progress=False),
                  tmp_path / "arrays")
    with pytest.raises(FileNotFoundError, match="holds no exported forecaster"):
        serving.load(tmp_path)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    meta = json.load(open(f"{path}/{serving.META}"))
    json.dump({**meta, "jaxseries": "0.0.1"}, open(foreign / serving.META, "w"))
    (foreign / serving.NETWORK).write_bytes(open(f"{path}/{serving.NETWORK}", "rb").read())
    with pytest.raises(ValueError, match=r"exported by jaxseries 0.0.1 .* export the run again"):
        serving.load(foreign)


def test_the_cli_exports_a_saved_run(tmp_path):
    from jaxseries import cli

    run = js.train_series(make_panel(), id="unique_id", checkpoint_dir=tmp_path / "run", **FAST)
    assert cli.main(["export", str(tmp_path / "run"), str(tmp_path / "served")]) == 0
    np.testing.assert_allclose(serving.load(tmp_path / "served").forecast().forecast, js.forecast(run).forecast,
                               rtol=1e-5)
    assert cli.main(["export", str(tmp_path / "run"), str(tmp_path / "served")]) == 2  # exists: refused

