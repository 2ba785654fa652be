"""Crash safety, damaged and hostile checkpoints, signals, concurrency."""

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import jaxseries as js
from jaxseries import checkpoint
from conftest import tree_equal

TRAIN_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import jaxseries as js
    x = np.random.default_rng(0).normal(size=(6, 5, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    trained = js.train(x, y, steps=int(sys.argv[2]), batch_size=2, log_every=10, progress=False,
                       checkpoint_dir=sys.argv[1], checkpoint_every=10, resume=True)
    np.save(sys.argv[3], np.asarray(trained.params["params"]["head"]["kernel"]))
""")


def train_in_subprocess(directory, steps, out, env=None, wait=True):
    command = [sys.executable, "-c", TRAIN_SCRIPT, str(directory), str(steps), str(out)]
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    if wait:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    return process


def small_run(tmp_path, steps=20, **kwargs):
    x = np.random.default_rng(0).normal(size=(6, 5, 1)).astype(np.float32)
    return js.train(x, np.cumsum(x[..., 0], axis=1), steps=steps, log_every=10, progress=False,
                    checkpoint_dir=tmp_path, checkpoint_every=10, **kwargs), x


def wait_for(path, timeout=120):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_kill_9_during_a_save_keeps_the_previous_step_and_resume_matches(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    hold = {"JAXSERIES_TEST_HOLD_SAVE": str(marks), "JAXSERIES_TEST_HOLD_SECONDS": "60"}
    # Hold only at the second save: let the first finish by holding briefly... so use two phases.
    process = train_in_subprocess(tmp_path / "ckpt", 20, tmp_path / "a.npy", env=hold, wait=False)
    wait_for(marks / "saving-10")
    process.kill()  # kill -9 while step 10 is being written: it has no manifest yet
    process.wait()
    with pytest.raises(js.CheckpointNotFoundError):
        js.load(tmp_path / "ckpt")  # nothing complete: a half-written step is never loaded
    train_in_subprocess(tmp_path / "ckpt", 20, tmp_path / "b.npy")  # a fresh run over the debris
    train_in_subprocess(tmp_path / "straight", 20, tmp_path / "c.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.load(tmp_path / "c.npy"))
    assert not [n for n in os.listdir(tmp_path / "ckpt") if "tmp" in n]


@pytest.mark.slow  # 20 s of fresh processes; the panel run's kill -9 test below checks the same resume in make test
def test_kill_9_after_a_complete_step_resumes_bit_exactly_in_fresh_processes(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    train_in_subprocess(tmp_path / "ckpt", 10, tmp_path / "first.npy")  # step 10 complete
    process = train_in_subprocess(tmp_path / "ckpt", 30, tmp_path / "x.npy", wait=False,
                                  env={"JAXSERIES_TEST_HOLD_SAVE": str(marks), "JAXSERIES_TEST_HOLD_SECONDS": "60"})
    wait_for(marks / "saving-20")
    process.kill()
    process.wait()
    assert int(js.load(tmp_path / "ckpt").state.step) == 10  # the latest complete step
    train_in_subprocess(tmp_path / "ckpt", 30, tmp_path / "resumed.npy")
    train_in_subprocess(tmp_path / "straight", 30, tmp_path / "straight.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "straight.npy"))
    assert tree_equal(js.load(tmp_path / "ckpt").state, js.load(tmp_path / "straight").state)


def test_sigterm_saves_the_current_step_and_exits_cleanly(tmp_path):
    script = TRAIN_SCRIPT.replace("checkpoint_every=10", "checkpoint_every=None")
    process = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "ckpt"), "200000", str(tmp_path / "o.npy")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # import, compile, train a while
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    assert "SIGTERM received; saved step" in err and "resume=True" in err
    step = int(js.load(tmp_path / "ckpt").state.step)
    assert 0 < step < 200000


def test_truncated_or_altered_file_is_named_and_fallback_loads_the_previous_step(tmp_path):
    small_run(tmp_path, steps=20)
    victim = max((p for p in (tmp_path / "20").rglob("*") if p.is_file() and p.name != "manifest.json"),
                 key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(js.CheckpointError, match=f"step 20 .*{victim.name}.*truncated or altered"):
        js.load(tmp_path)
    with pytest.warns(UserWarning, match="skipping damaged checkpoint"):
        assert int(js.load(tmp_path, fallback=True).state.step) == 10


def test_stale_steps_are_refused_not_skipped(tmp_path):
    trained, _ = small_run(tmp_path, steps=20)
    with checkpoint.open_manager(str(tmp_path), create=False) as manager:
        with pytest.raises(js.CheckpointError, match="refusing to save step 10"):
            checkpoint.save(manager, 10, trained.state, {})


def test_divergence_with_a_huge_learning_rate_keeps_the_last_good_checkpoint(tmp_path):
    x = np.random.default_rng(0).normal(size=(6, 5, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    with pytest.raises(js.DivergenceError, match="diverged at step 1: loss .*above max_loss"):
        js.train(x, y, steps=50, learning_rate=1e9, max_loss=1e6, log_every=10, progress=False,
                 checkpoint_dir=tmp_path, checkpoint_every=1)
    loaded = js.load(tmp_path)  # the last good step, finite
    assert int(loaded.state.step) == 1
    assert all(np.isfinite(np.asarray(p)).all() for p in __import__("jax").tree.leaves(loaded.params))
    with pytest.raises(js.DivergenceError, match="diverged at step 0: loss inf"):
        js.train(x, y * 1e20, steps=5, progress=False)  # squares overflow float32


def hostile_copy(tmp_path):
    small_run(tmp_path / "good", steps=10)
    hostile = tmp_path / "hostile"
    shutil.copytree(tmp_path / "good", hostile)
    return hostile


def rewrite_meta(step_dir, change):
    meta_files = [p for p in (step_dir / "meta").rglob("*") if p.is_file()]
    path = meta_files[0]
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))
    checkpoint.write_manifest(str(step_dir.parent), int(step_dir.name))  # an attacker can rewrite the manifest too


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['PAYLOAD_MARK']}",))


@pytest.mark.parametrize("attack", ["pickle_arrays", "parent_paths", "absurd_shapes", "unknown_fields", "wrong_types"])
def test_a_hostile_run_directory_is_refused_without_executing_anything(tmp_path, monkeypatch, attack):
    hostile = hostile_copy(tmp_path)
    step_dir = hostile / "10"
    mark = tmp_path / "pwned"
    monkeypatch.setenv("PAYLOAD_MARK", str(mark))
    if attack == "pickle_arrays":
        for path in (step_dir / "state").rglob("*"):
            if path.is_file() and path.stat().st_size > 100:
                path.write_bytes(pickle.dumps(Payload()))
        checkpoint.write_manifest(str(hostile), 10)
    elif attack == "parent_paths":
        rewrite_meta(step_dir, lambda m: m["extra"].update(tail={"index": ["../../etc/passwd"], "columns": "../../"}))
    elif attack == "absurd_shapes":
        rewrite_meta(step_dir, lambda m: m["model_config"].update(hidden_dim=10**7))
    elif attack == "unknown_fields":
        rewrite_meta(step_dir, lambda m: m.update(__import__="os"))
    elif attack == "wrong_types":
        rewrite_meta(step_dir, lambda m: m.update(history="rm -rf /"))
    before = sorted(os.listdir(tmp_path))
    with pytest.raises((ValueError, TypeError)) as caught:
        run = js.load(hostile)
        js.forecast(run)  # the forecasting layer reads the rest of the metadata
    assert "step 10" in str(caught.value) or "series" in str(caught.value)
    assert not mark.exists()
    assert sorted(os.listdir(tmp_path)) == before


def test_predict_is_safe_from_threads_and_during_a_save(tmp_path):
    trained, x = small_run(tmp_path, steps=10)
    expected = js.predict(trained, x)
    results, errors = [], []

    def worker():
        try:
            for _ in range(20):
                results.append(js.predict(trained, x))
        except Exception as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    small_run(tmp_path / "other", steps=30)  # saves in flight meanwhile
    for t in threads:
        t.join()
    assert not errors and len(results) == 80
    assert all(np.array_equal(r, expected) for r in results)


FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoint-v1")


def test_a_checkpoint_from_an_earlier_jaxseries_still_loads():
    trained = js.load(FIXTURE)
    expected = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "checkpoint-v1-predictions.npy"))
    x = np.asarray(js.seed.SEED_TEST_X if hasattr(js, "seed") else [[[1], [2], [3], [4]], [[4], [5], [6], [7]]], np.float32)
    np.testing.assert_allclose(js.predict(trained, x), expected, rtol=1e-6)


@pytest.mark.slow
def test_random_time_kills_never_leave_an_unloadable_checkpoint(tmp_path):
    rng = np.random.default_rng(7)
    survived = 0
    for trial in range(5):
        process = train_in_subprocess(tmp_path / "ckpt", 400, tmp_path / "x.npy", wait=False)
        time.sleep(float(rng.uniform(3.0, 9.0)))  # somewhere in import, compile, training or a save
        process.kill()
        process.wait()
        if checkpoint.is_checkpoint_dir(str(tmp_path / "ckpt")):
            loaded = js.load(tmp_path / "ckpt")  # the newest complete step always loads and verifies
            assert int(loaded.state.step) % 10 == 0
        survived += 1
    train_in_subprocess(tmp_path / "ckpt", 400, tmp_path / "resumed.npy")
    train_in_subprocess(tmp_path / "straight", 400, tmp_path / "straight.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "straight.npy"))
    assert survived == 5


FAILED_WRITE = textwrap.dedent("""
    import os, subprocess, sys
    import numpy as np
    import jaxseries as js
    directory = sys.argv[1]
    x = np.random.default_rng(0).normal(size=(6, 5, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1)
    js.train(x, y, steps=10, log_every=10, progress=False, checkpoint_dir=directory)
    if subprocess.run(["chattr", "+i", directory], capture_output=True).returncode != 0:
        print("SKIP"); sys.stdout.flush(); os._exit(0)
    try:
        js.train(x, y, steps=20, log_every=10, progress=False, checkpoint_dir=directory, resume=True)
        print("NO ERROR")
    except Exception as error:
        print("RAISED", type(error).__name__)
    finally:
        subprocess.run(["chattr", "-i", directory], check=True)
    print("STEP", int(js.load(directory).state.step))
    sys.stdout.flush()
    os._exit(0)  # orbax's signalling threads for the failed save would hold the interpreter until they time out
""")


def test_a_failed_background_write_surfaces_and_loses_nothing(tmp_path):
    result = subprocess.run([sys.executable, "-c", FAILED_WRITE, str(tmp_path / "ckpt")], capture_output=True,
                            text=True, timeout=300)
    if "SKIP" in result.stdout:
        pytest.skip("this filesystem cannot make a directory immutable (chattr +i); root ignores plain permissions")
    assert "RAISED" in result.stdout, (result.stdout, result.stderr[-2000:])
    assert "STEP 10" in result.stdout  # the earlier step is untouched and loads


PANEL_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import pandas as pd
    import jaxseries as js
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2001-01-01", periods=n, freq="MS"),
                            "y": 10 + i + np.cumsum(rng.normal(size=n)) ** 2}) for i, n in enumerate((30, 44, 37))]
    run = js.train_series(pd.concat(frames), id="unique_id", horizon=3, steps=int(sys.argv[2]), eval_every=10,
                          patience=None, hidden_dim=8, batch_size=8, progress=False, checkpoint_dir=sys.argv[1],
                          checkpoint_every=10, resume=True)
    js.forecast(run).to_csv(sys.argv[3], index=False)
""")


def test_a_panel_run_survives_kill_9_and_resumes_bit_exactly_in_fresh_processes(tmp_path):
    def panel_run(directory, steps, out, env=None, wait=True):
        process = subprocess.Popen([sys.executable, "-c", PANEL_SCRIPT, str(directory), str(steps), str(out)],
                                   env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        if wait:
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
        return process

    marks = tmp_path / "marks"
    marks.mkdir()
    panel_run(tmp_path / "ckpt", 10, tmp_path / "first.csv")
    process = panel_run(tmp_path / "ckpt", 30, tmp_path / "x.csv", wait=False,
                        env={"JAXSERIES_TEST_HOLD_SAVE": str(marks), "JAXSERIES_TEST_HOLD_SECONDS": "60"})
    wait_for(marks / "saving-20")
    process.kill()  # kill -9 while step 20 is being written
    process.wait()
    assert int(js.load(tmp_path / "ckpt").state.step) == 10
    panel_run(tmp_path / "ckpt", 30, tmp_path / "resumed.csv")
    panel_run(tmp_path / "straight", 30, tmp_path / "straight.csv")
    assert tree_equal(js.load(tmp_path / "ckpt").state, js.load(tmp_path / "straight").state)
    assert open(tmp_path / "resumed.csv").read() == open(tmp_path / "straight.csv").read()
    (tmp_path / "ckpt" / "30" / "meta" / "metadata").write_text("{not json")  # damaged: refused, by step
    with pytest.raises(js.CheckpointError, match="step 30"):
        js.load(tmp_path / "ckpt")
