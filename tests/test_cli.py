import subprocess
import sys


def run_cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "jaxseries", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def test_module_and_console_script_are_the_same_cli():
    import shutil
    script = shutil.which("jaxseries") or str(__import__("pathlib").Path(sys.executable).parent / "jaxseries")
    as_module = run_cli("--help")
    as_script = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert as_module.returncode == as_script.returncode == 0
    assert as_module.stdout.replace("__main__.py", "jaxseries") == as_script.stdout
    assert "demo" in as_module.stdout


def small_csv(path, n=60):
    import numpy as np
    import pandas as pd

    t = np.arange(n)
    pd.DataFrame({
        "month": pd.date_range("2001-01", periods=n, freq="MS").strftime("%Y-%m"),
        "sales": 100 * np.exp(0.01 * t + 0.2 * np.sin(2 * np.pi * t / 12)),
    }).to_csv(path, index=False)


def test_train_forecast_evaluate_end_to_end(tmp_path, monkeypatch, capsys):
    import json

    import pandas as pd

    import jaxseries as js

    small_csv(tmp_path / "s.csv")
    trained = run_cli("train", "s.csv", "--target", "sales", "--time", "month", "--horizon", "6", "--holdout", "6",
                      "--out", "run", "--steps", "40", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "seasonal_naive" in trained.stdout and "naive" in trained.stdout
    from jaxseries import cli  # the rest in this process: the run was written by a real one

    monkeypatch.chdir(tmp_path)
    assert cli.main(["forecast", "run", "--csv", "f.csv", "--plot", "f.png"]) == 0
    frame = pd.read_csv(tmp_path / "f.csv")
    assert list(frame.columns) == ["month", "forecast"] and len(frame) == 6
    assert frame["month"].iloc[0] == "2005-07-01"  # the first holdout month
    assert (tmp_path / "f.png").stat().st_size > 1000
    capsys.readouterr()
    assert cli.main(["evaluate", "run", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores["metrics"]) == {"jaxseries", "naive", "seasonal_naive"}
    assert scores["horizon"] == 6 and len(scores["per_step_mape"]["jaxseries"]) == 6
    assert js.load(tmp_path / "run").model_config.head == "horizon"  # the Python API reads CLI runs (direct decoder)
    assert js.load(tmp_path / "run").extra["panel"]["combine"] == "theta+damped+ets"  # "auto" on monthly data
    assert cli.main(["train", "s.csv", "--horizon", "6", "--out", "alone", "--steps", "20", "--combine", "none",
                     "--no-progress"]) == 0
    assert js.load(tmp_path / "alone").extra["panel"]["combine"] is None
    assert cli.main(["train", "s.csv", "--horizon", "6", "--out", "damped", "--steps", "20", "--combine",
                     "theta+damped", "--no-progress"]) == 0
    assert "damped" in js.load(tmp_path / "damped").extra["panel_series"]  # each series' damped trend, stored
    assert cli.main(["forecast", "run", "--csv", "g.csv", "--level", "0.95"]) == 2
    assert "a 95% interval needs at least 19 validation windows" in capsys.readouterr().err


def test_cli_ensemble_checkpoints_resumes_and_forecasts_an_interval(tmp_path):
    import pandas as pd

    small_csv(tmp_path / "s.csv")
    common = ["train", "s.csv", "--target", "sales", "--time", "month", "--horizon", "6", "--holdout", "6",
              "--out", "run", "--members", "2", "--checkpoint-every", "10", "--hidden-dim", "8", "--no-progress",
              "--validation", "10"]  # 5 validation windows: enough to calibrate an 80% interval
    first = run_cli(*common, "--steps", "20", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    resumed = run_cli(*common, "--steps", "40", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    forecast = run_cli("forecast", "run", "--csv", "f.csv", "--level", "0.8", cwd=tmp_path)
    assert forecast.returncode == 0, forecast.stderr
    frame = pd.read_csv(tmp_path / "f.csv")
    assert list(frame.columns) == ["month", "forecast", "lower", "upper"]
    assert (frame["lower"] <= frame["forecast"]).all() and (frame["forecast"] <= frame["upper"]).all()


def test_cli_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from jaxseries import cli  # in this process (a fresh one per case cost 3 s each); the last case runs the module

    small_csv(tmp_path / "s.csv")
    monkeypatch.chdir(tmp_path)
    for extra, words in [
        (["--target", "nope"], "target column 'nope' is not in the data"),
        (["--target", "sales", "--time", "when"], "time column 'when' is not in the data"),
        (["--target", "sales", "--holdout", "0"], "holdout must be >= 1"),
        (["--target", "sales", "--horizon", "0"], "horizon must be >= 1"),
        (["--target", "sales", "--validation", "70"], "validation 70 + 1 needs 71"),
    ]:
        args = ["train", "s.csv", "--horizon", "3", "--out", "run", "--time", "month", *extra]
        if "--horizon" in extra:
            args = ["train", "s.csv", "--out", "run", "--time", "month", *extra]
        if "--time" in extra:
            args.remove("--time"), args.remove("month")
        assert cli.main(args) == 2, extra
        stderr = capsys.readouterr().err
        assert words in stderr and "jaxseries train: error:" in stderr, (words, stderr)
        assert not (tmp_path / "run").exists()
    missing = run_cli("evaluate", "nowhere", cwd=tmp_path)  # the exit status of a real process
    assert missing.returncode == 2 and "no checkpoint directory" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_report_piped_into_a_reader_that_stops_ends_quietly(tmp_path):
    small_csv(tmp_path / "s.csv")
    script = (f"{sys.executable} -m jaxseries backtest s.csv --target sales --time month --horizon 3 --folds 6 "
              "--steps 20 --no-progress --json | head -n 0")  # the reader is gone before the first line
    piped = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, cwd=tmp_path,
                           timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "Traceback" not in piped.stderr and "BrokenPipeError" not in piped.stderr
