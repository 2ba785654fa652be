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
    print(json.dumps({"full": js.predict(full, x).tolist(), "mini": js.predict(mini, x).tolist(),
                      "devices": len(sharding.device_set)}))
""")


def test_two_devices_match_one_and_their_checkpoint_loads_here(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "ckpt")], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2  # it really ran data-parallel
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    full = js.train(x, y, steps=40, progress=False)
    mini = js.train(x, y, steps=40, batch_size=4, progress=False)
    np.testing.assert_allclose(out["full"], js.predict(full, x), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["mini"], js.predict(mini, x), rtol=1e-4, atol=1e-5)
    restored = js.load(tmp_path / "ckpt")  # saved from 2 devices, restored onto this process's 1
    np.testing.assert_allclose(js.predict(restored, x), out["full"], rtol=1e-6)
