"""Data parallelism over several (forced host) CPU devices, in a subprocess: XLA flags must precede JAX's start."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

import jaxseries as js

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import jax
    import jaxseries as js
    assert len(jax.devices()) == 2
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    full = js.train(x, y, steps=40, progress=False, checkpoint_dir=sys.argv[1])
    mini = js.train(x, y, steps=40, batch_size=4, progress=False)
    sharding = full.state.params["params"]["head"]["kernel"].sharding
    from jaxseries import model  # several CPU devices: the scan, which XLA splits over the batch, not the kernel
    lowered = jax.jit(model.lstm_recurrence).lower(np.zeros((3, 4, 8), np.float32), np.zeros((2, 8), np.float32))
    print(json.dumps({"full": js.predict(full, x).tolist(), "mini": js.predict(mini, x).tolist(),
                      "devices": len(sharding.device_set), "kernel": "JaxseriesLstm" in lowered.as_text()}))
""")


def test_two_devices_match_one_and_their_checkpoint_loads_here(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "ckpt")], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2  # it really ran data-parallel
    assert out["kernel"] is False
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    full = js.train(x, y, steps=40, progress=False)
    mini = js.train(x, y, steps=40, batch_size=4, progress=False)
    np.testing.assert_allclose(out["full"], js.predict(full, x), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["mini"], js.predict(mini, x), rtol=1e-4, atol=1e-5)
    restored = js.load(tmp_path / "ckpt")  # saved from 2 devices, restored onto this process's 1
    # The same weights predict through the kernel here and the scan there: equal to float32 rounding.
    np.testing.assert_allclose(js.predict(restored, x), out["full"], rtol=1e-6, atol=1e-6)


DISTRIBUTED = textwrap.dedent("""
    import json, sys
    import numpy as np
    import jax
    port, process, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=process)
    import jaxseries as js
    assert jax.process_count() == 2 and len(jax.devices()) == 2 and len(jax.local_devices()) == 1
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    full = js.train(x, y, steps=40, progress=False, checkpoint_dir=directory, checkpoint_every=20)
    mini = js.train(x, y, steps=40, batch_size=4, progress=False)
    kernel = full.state.params["params"]["head"]["kernel"]
    print(json.dumps({"devices": len(kernel.sharding.device_set), "full": full.history.tolist(),
                      "mini": mini.history.tolist(), "kernel": np.asarray(kernel).tolist()}))
""")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_with_jax_distributed_match_one_process(tmp_path):
    port, directory = str(free_port()), str(tmp_path / "ckpt")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    workers = [subprocess.Popen([sys.executable, "-c", DISTRIBUTED, port, str(i), directory], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    first, second = (json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert first == second and first["devices"] == 2  # one program over both processes' devices
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    full = js.train(x, y, steps=40, progress=False)
    mini = js.train(x, y, steps=40, batch_size=4, progress=False)
    np.testing.assert_allclose(first["full"], full.history, rtol=1e-4)
    np.testing.assert_allclose(first["mini"], mini.history, rtol=1e-4)
    np.testing.assert_allclose(first["kernel"], full.state.params["params"]["head"]["kernel"], rtol=1e-4, atol=1e-6)
    restored = js.load(directory)  # written by both processes together, restored here on one
    assert int(restored.state.step) == 40
    np.testing.assert_allclose(restored.history, first["full"], rtol=1e-6)


PANEL_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pandas as pd
    import jax
    import jaxseries as js
    assert len(jax.devices()) == 2
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"unique_id": f"s{i}", "y": 10 + i + np.cumsum(rng.normal(size=n)) ** 2})
              for i, n in enumerate((30, 44, 37, 50))]
    run = js.train_series(pd.concat(frames), id="unique_id", horizon=3, steps=30, eval_every=10, patience=None,
                          hidden_dim=8, batch_size=8, progress=False)
    sharding = run.state.params["params"]["head"]["kernel"].sharding
    print(json.dumps({"forecast": js.forecast(run).forecast.tolist(), "devices": len(sharding.device_set)}))
""")


def test_a_panel_trains_with_its_batches_split_over_two_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run([sys.executable, "-c", PANEL_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2  # the windows are cut on every device, each batch split between them
    one = subprocess.run([sys.executable, "-c", PANEL_SCRIPT.replace("assert len(jax.devices()) == 2", "")],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    np.testing.assert_allclose(out["forecast"], json.loads(one.stdout.strip().splitlines()[-1])["forecast"], rtol=1e-3)
