"""The CPU recurrence kernel (lstm_kernel.cc) against its oracle, the XLA scan, on awkward shapes, under vmap, in
gradients and in whole training runs; and the fallback where it is not used."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import kernel, model, steps

needs_kernel = pytest.mark.skipif(not kernel.available(), reason=f"kernel: {kernel.status()}")


@pytest.fixture(autouse=True)
def kernel_everywhere(monkeypatch):
    # These tests hold the kernel to the scan at shapes the build's measurement may give to the scan: every
    # program here uses the kernel unless a test says otherwise (the choice itself is tested below).
    monkeypatch.setenv("JAXSERIES_KERNEL", "1")


def test_make_builds_the_kernel_wherever_a_compiler_exists():
    # `make test` builds it first, so on a machine with a compiler this suite always exercises the kernel.
    if kernel.compiler() is None:
        pytest.skip("no C++ compiler: the XLA path is the only one here")
    assert kernel.available(), kernel.status()


def recurrence_inputs(steps, batch, hidden, seed=0, members=()):
    rng = np.random.default_rng(seed)
    gates_in = rng.normal(size=members + (steps, batch, 4 * hidden)).astype(np.float32)
    w_recurrent = (rng.normal(size=members + (hidden, 4 * hidden)) / np.sqrt(hidden)).astype(np.float32)
    return jnp.asarray(gates_in), jnp.asarray(w_recurrent)


# Shapes that reach every part of the kernel: one row and one unit; rows and columns that fill no vector; rows
# split over threads; H = 20 (80 gate columns: a full vector block, a single vector and a scalar tail); H = 128
# (dz's rows 2 KB apart: packed before the weight gradient).
SHAPES = [(1, 1, 1), (5, 7, 3), (9, 13, 20), (4, 64, 64), (3, 130, 16), (3, 9, 128)]


@needs_kernel
@pytest.mark.parametrize("steps,batch,hidden", SHAPES)
def test_kernel_forward_and_backward_equal_the_scan(steps, batch, hidden):
    gates_in, w_recurrent = recurrence_inputs(steps, batch, hidden)
    h, c, activations = model._scan_forward(gates_in, w_recurrent, 1)
    on_kernel = jax.jit(kernel.forward)(gates_in, w_recurrent)
    for expected, got in zip((h, c, *activations), on_kernel):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-6)
    dh = jnp.asarray(np.random.default_rng(1).normal(size=h.shape).astype(np.float32))
    dz, dw = jax.jit(kernel.backward)(dh, h, c, *activations, w_recurrent)
    dz_scan, dw_scan = model._scan_gradients(dh, h, c, *activations, w_recurrent, 1)
    np.testing.assert_allclose(dz, dz_scan, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dw, dw_scan, rtol=1e-4, atol=1e-4 * np.sqrt(steps * batch))


@needs_kernel
def test_gradients_through_the_kernel_equal_autodiff_of_the_reference():
    gates_in, w_recurrent = recurrence_inputs(6, 10, 12, seed=2)
    cotangent = jnp.asarray(np.random.default_rng(3).normal(size=(6, 10, 12)).astype(np.float32))

    def loss(fn):
        return lambda g, w: jnp.sum(fn(g, w) * cotangent)

    assert "JaxseriesLstmBackward" in jax.jit(jax.grad(loss(model.lstm_recurrence))).lower(
        gates_in, w_recurrent).as_text()
    fast = jax.grad(loss(model.lstm_recurrence), argnums=(0, 1))(gates_in, w_recurrent)
    reference = jax.grad(loss(model.lstm_recurrence_reference), argnums=(0, 1))(gates_in, w_recurrent)
    for got, expected in zip(fast, reference):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@needs_kernel
def test_vmap_runs_members_as_independent_recurrences():
    # A population: every member its own weights (batched), or one weight for all (broadcast), nested vmaps too.
    gates_in, w_recurrent = recurrence_inputs(7, 9, 5, seed=4, members=(2, 3))
    each = np.stack([np.stack([model.lstm_recurrence_reference(gates_in[a, b], w_recurrent[a, b]) for b in range(3)])
                     for a in range(2)])
    nested = jax.jit(jax.vmap(jax.vmap(model.lstm_recurrence)))(gates_in, w_recurrent)
    np.testing.assert_allclose(nested, each, rtol=1e-5, atol=2e-6)
    shared = jax.vmap(model.lstm_recurrence, in_axes=(0, None))(gates_in[0], w_recurrent[0, 0])
    np.testing.assert_allclose(shared, np.stack([model.lstm_recurrence_reference(g, w_recurrent[0, 0])
                                                 for g in gates_in[0]]), rtol=1e-5, atol=2e-6)
    grads = jax.vmap(jax.grad(lambda g, w: jnp.sum(model.lstm_recurrence(g, w) ** 2), argnums=1))(
        gates_in[1], w_recurrent[1])
    reference = [jax.grad(lambda g, w: jnp.sum(model.lstm_recurrence_reference(g, w) ** 2), argnums=1)(
        gates_in[1, m], w_recurrent[1, m]) for m in range(3)]
    np.testing.assert_allclose(grads, np.stack(reference), rtol=1e-4, atol=1e-5)


@needs_kernel
def test_each_member_sums_only_its_own_pieces_of_the_weight_gradient():
    # Two members of 40 rows: each member's rows split into two pieces, whose weight-gradient shares must add up
    # per member (a mix-up between members would still give the right total).
    gates_in, w_recurrent = recurrence_inputs(5, 40, 8, seed=6, members=(2,))
    dh = jnp.asarray(np.random.default_rng(7).normal(size=(2, 5, 40, 8)).astype(np.float32))
    outputs = jax.vmap(kernel.forward)(gates_in, w_recurrent)
    dz, dw = jax.jit(jax.vmap(kernel.backward))(dh, *outputs, w_recurrent)
    unmapped = jax.jit(kernel.backward)(dh, *outputs, w_recurrent)  # leading dimensions passed as they are
    for got, expected in zip(unmapped, (dz, dw)):
        np.testing.assert_array_equal(got, expected)
    for m in range(2):
        dz_scan, dw_scan = model._scan_gradients(dh[m], *(o[m] for o in outputs), w_recurrent[m], 1)
        np.testing.assert_allclose(dz[m], dz_scan, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(dw[m], dw_scan, rtol=1e-4, atol=1e-4)


@needs_kernel
def test_one_weight_shared_by_members_gets_the_sum_of_their_gradients():
    gates_in, w_recurrent = recurrence_inputs(6, 11, 20, seed=8, members=(3,))
    shared = w_recurrent[0]
    dh = jnp.asarray(np.random.default_rng(9).normal(size=(3, 6, 11, 20)).astype(np.float32))
    outputs = jax.vmap(kernel.forward, in_axes=(0, None))(gates_in, shared)
    dz, dw = jax.jit(kernel.backward)(dh, *outputs, shared)  # members' leading axis, one [H, 4H] weight
    assert dw.shape == shared.shape
    each = [model._scan_gradients(dh[m], *(o[m] for o in outputs), shared, 1) for m in range(3)]
    np.testing.assert_allclose(dz, np.stack([e[0] for e in each]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dw, sum(e[1] for e in each), rtol=1e-4, atol=1e-4)


@needs_kernel
def test_gpu_and_tpu_programs_keep_the_scan():
    # The choice is made when lowering: the same function exported for CUDA holds no call to the CPU kernel.
    gates_in, w_recurrent = recurrence_inputs(3, 4, 2)
    fn = jax.jit(model.lstm_recurrence)
    assert "JaxseriesLstmForward" in fn.lower(gates_in, w_recurrent).as_text()
    exported = jax.export.export(fn, platforms=["cuda"])(gates_in, w_recurrent)
    assert "JaxseriesLstmForward" not in exported.mlir_module()
    assert "stablehlo.while" in exported.mlir_module()


@needs_kernel
def test_training_on_the_kernel_follows_the_scan(monkeypatch):
    x = np.random.default_rng(5).normal(size=(16, 12, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    kwargs = dict(hidden_dim=8, steps=30, progress=False, log_every=10)
    on_kernel = js.train(x, y, **kwargs)
    monkeypatch.setattr(kernel, "available", lambda: False)
    steps.compiled_chunk.cache_clear(), steps.compiled_apply.cache_clear(), jax.clear_caches()  # trace anew
    on_scan = js.train(x, y, **kwargs)
    steps.compiled_chunk.cache_clear(), steps.compiled_apply.cache_clear(), jax.clear_caches()
    assert not np.array_equal(on_kernel.history, on_scan.history)  # two programs ran (exp rounds differently)
    np.testing.assert_allclose(on_kernel.history, on_scan.history, rtol=1e-4)
    np.testing.assert_allclose(js.predict(on_kernel, x), js.predict(on_scan, x), rtol=1e-3, atol=1e-4)


@needs_kernel
def test_a_setting_changed_mid_process_trains_on_the_path_it_names(monkeypatch):
    # The path is fixed when a program is traced; the programs' caches are keyed on JAXSERIES_KERNEL, so the build's
    # timing (both paths in one process) and a user who changes it between calls get the path it names.
    traced, scanned = [], []
    real, real_scan = kernel.forward, model._scan_forward
    monkeypatch.setattr(kernel, "forward", lambda *args: traced.append(1) or real(*args))
    monkeypatch.setattr(model, "_scan_forward", lambda *args, **kw: scanned.append(1) or real_scan(*args, **kw))
    x = np.random.default_rng(6).normal(size=(9, 7, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    kwargs = dict(hidden_dim=5, steps=20, progress=False, log_every=10)
    steps.compiled_chunk.cache_clear()
    first = js.train(x, y, **kwargs).history
    on_kernel, scan_traces = len(traced), len(scanned)  # (platform_dependent traces the scan beside the kernel)
    monkeypatch.setenv("JAXSERIES_KERNEL", "0")
    on_scan = js.train(x, y, **kwargs).history
    # a program was traced (not the cached one reused), with the scan alone
    assert on_kernel > 0 and len(traced) == on_kernel and len(scanned) > scan_traces
    np.testing.assert_allclose(on_scan, first, rtol=1e-4)
    monkeypatch.setenv("JAXSERIES_KERNEL", "1")
    on_scan_traces = len(scanned)
    np.testing.assert_array_equal(js.train(x, y, **kwargs).history, first)
    assert len(traced) == on_kernel and len(scanned) == on_scan_traces  # the kernel's program, traced once, is reused


def test_without_the_kernel_the_scan_runs(monkeypatch):
    monkeypatch.setattr(kernel, "available", lambda: False)
    gates_in, w_recurrent = recurrence_inputs(4, 3, 2)
    lowered = jax.jit(model.lstm_recurrence).lower(gates_in, w_recurrent).as_text()
    assert "JaxseriesLstm" not in lowered
    np.testing.assert_allclose(model.lstm_recurrence(gates_in, w_recurrent),
                               model.lstm_recurrence_reference(gates_in, w_recurrent), rtol=1e-6, atol=1e-6)


def _lowers_to_kernel(steps, batch, hidden):
    inputs = recurrence_inputs(steps, batch, hidden)
    return "JaxseriesLstm" in jax.jit(lambda g, w: model.lstm_recurrence(g, w)).lower(*inputs).as_text()


@needs_kernel
def test_each_shape_runs_on_the_path_measured_faster_at_the_nearest_probe(monkeypatch):
    choice = {"probes": [{"steps": 32, "rows": 16, "hidden": 16, "kernel_ms": 1.0, "scan_ms": 2.0},
                         {"steps": 32, "rows": 16, "hidden": 256, "kernel_ms": 3.0, "scan_ms": 2.0},
                         {"steps": 2, "rows": 2, "hidden": 16, "kernel_ms": 3.0, "scan_ms": 2.0}]}
    monkeypatch.setattr(kernel, "_recorded_choice", lambda: choice)
    monkeypatch.delenv("JAXSERIES_KERNEL", raising=False)
    assert kernel.chosen_for(24, 20, 24) and not kernel.chosen_for(24, 300, 200) and not kernel.chosen_for(3, 2, 16)
    assert _lowers_to_kernel(30, 16, 16) and not _lowers_to_kernel(30, 16, 200) and not _lowers_to_kernel(2, 3, 16)
    assert "3 measured shapes; the scan runs at 32 steps x 16 rows x 256 units, 2 steps x 2 rows" in kernel.status()
    monkeypatch.setenv("JAXSERIES_KERNEL", "1")  # the override wins over the measurement, both ways
    assert kernel.chosen_for(24, 300, 200) and _lowers_to_kernel(30, 16, 200)
    monkeypatch.setenv("JAXSERIES_KERNEL", "0")
    assert not kernel.chosen_for(24, 20, 24) and not _lowers_to_kernel(30, 16, 16)


def test_a_measurement_counts_only_for_the_library_it_timed(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel, "CHOICE", tmp_path / "choice.json")
    monkeypatch.setattr(kernel, "_fingerprint", lambda: [1, 2])
    monkeypatch.delenv("JAXSERIES_KERNEL", raising=False)
    try:
        kernel.record({"library": [1, 2], "probes": [{"steps": 8, "rows": 8, "hidden": 8, "kernel_ms": 2.0,
                                                      "scan_ms": 1.0}]}, quiet=True)
        assert not kernel.chosen_for(8, 8, 8)
        monkeypatch.setattr(kernel, "_fingerprint", lambda: [1, 3])  # rebuilt since: not measured, the kernel runs
        kernel._recorded_choice.cache_clear()
        assert kernel.chosen_for(8, 8, 8)
    finally:
        kernel._recorded_choice.cache_clear()


@needs_kernel
def test_measure_times_both_paths_at_every_probe():
    choice = kernel.measure([(3, 4, 3), (5, 9, 5)])
    assert choice["library"] == kernel._fingerprint()
    assert [(p["steps"], p["rows"], p["hidden"]) for p in choice["probes"]] == [(3, 4, 3), (5, 9, 5)]
    assert all(p["kernel_ms"] > 0 and p["scan_ms"] > 0 for p in choice["probes"])


def test_status_names_the_way_to_turn_it_off(monkeypatch):
    monkeypatch.setenv("JAXSERIES_KERNEL", "0")
    assert kernel.status() == "off (JAXSERIES_KERNEL=0)"


def _shapes(tree):
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype) if hasattr(a, "dtype") else a, tree)


def test_every_program_of_training_and_forecasting_lowers_for_gpu_and_tpu_without_the_cpu_kernel(monkeypatch):
    """The chunk of training steps (one model, a population), the window gather, prediction and the recursive
    rollout, captured from real calls and exported for CUDA and TPU: no CPU-only operation reaches them."""
    from jaxseries import forecasting, loop, runs, windows

    captured = []

    def spy(module, name):
        real = getattr(module, name)

        def factory(*args, **kwargs):
            program = real(*args, **kwargs)

            def call(*inputs):
                captured.append((name, program, _shapes(inputs)))
                return program(*inputs)
            return call
        monkeypatch.setattr(module, name, factory)

    for module, name in ((loop, "compiled_chunk"), (runs, "compiled_apply"), (windows, "compiled_gather"),
                         (forecasting, "_compiled_rollout")):
        spy(module, name)
    t = np.arange(60)
    frame = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 60), "y": np.tile(10 + np.sin(t / 2) + 0.1 * t, 2)})
    options = dict(id="unique_id", horizon=4, steps=10, eval_every=10, hidden_dim=8, progress=False)
    js.forecast(js.train_series(frame, **options))
    js.forecast(js.train_series(frame, members=2, **options))
    js.forecast(js.train_series(frame, strategy="recursive", **options), horizon=6)
    assert {name for name, *_ in captured} == {"compiled_chunk", "compiled_apply", "compiled_gather",
                                               "_compiled_rollout"}
    for name, program, inputs in {(n, p): (n, p, i) for n, p, i in captured}.values():
        text = jax.export.export(program, platforms=["cuda", "tpu"])(*inputs).mlir_module()
        assert "JaxseriesLstm" not in text, name
        assert "stablehlo.while" in text or name == "compiled_gather", name  # the recurrence is XLA's scan there
    if kernel.status().startswith("in use"):  # the check can fail: lowered for this CPU, the kernel is there
        name, program, inputs = next(c for c in captured if c[0] == "compiled_chunk")
        assert "JaxseriesLstm" in program.lower(*inputs).as_text()
