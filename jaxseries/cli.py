"""The command line (`jaxseries ...` and `python -m jaxseries ...` are the same program).

    jaxseries train DATA.csv --target COL [--target COL2 ...] [--time COL] --horizon H [--holdout N] [--auto] --out RUN_DIR
    jaxseries train PANEL.csv --id unique_id --time ds --target y --horizon H [--static COL] --out RUN_DIR
    jaxseries forecast RUN_DIR [--horizon H] --csv OUT.csv [--plot OUT.png]
    jaxseries evaluate RUN_DIR [--json] [--per-series OUT.csv]
    jaxseries backtest DATA.csv --target COL --horizon H --folds K [--refit] [--json] [--csv OUT.csv] [--id COL]
    jaxseries dataset airline OUT.csv
    jaxseries demo
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from jaxseries import config, distributions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxseries", description="LSTM time-series forecasting in JAX.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="the seed tutorial, the better recipe, then the airline forecast")
    demo.add_argument("--out", default="runs/demo", help="directory for the demo's checkpoints and plots (runs/demo)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")

    train = commands.add_parser("train", help="train a forecaster on a CSV series")
    _series_options(train)
    train.add_argument("--holdout", type=int, help="last N rows never seen in training or validation")
    train.add_argument("--out", required=True, help="run directory (checkpoints and metadata)")
    train.add_argument("--checkpoint-every", type=int, help="also save every K steps")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    train.add_argument("--strategy", choices=["direct", "recursive"], default="direct")
    train.add_argument("--refit", action="store_true", help="after early stopping, retrain on train+validation")
    train.add_argument("--local", action="store_true", help="panel: one model per series (all in one call)")
    train.add_argument("--auto", action="store_true",
                       help="choose context (and log or not) by a backtest before the holdout, then train")
    train.add_argument("--budget", type=float, help="with --auto: seconds for the search and the training")

    backtest = commands.add_parser("backtest", help="rolling-origin backtest: K origins, all folds in one compiled call")
    _series_options(backtest)
    backtest.add_argument("--folds", type=int, required=True, help="number of forecast origins")
    backtest.add_argument("--stride", type=int, default=1, help="rows between origins (1)")
    backtest.add_argument("--refit", action="store_true", help="fit every fold on its own data (else one model)")
    backtest.add_argument("--level", type=float, default=0.8, help="prediction interval coverage (0.8)")
    backtest.add_argument("--json", action="store_true", help="print JSON instead of tables")
    backtest.add_argument("--csv", help="also write every fold's forecasts, truth and interval to this CSV")

    forecast = commands.add_parser("forecast", help="forecast from the end of a run's training data")
    forecast.add_argument("run_dir")
    forecast.add_argument("--horizon", type=int)
    forecast.add_argument("--csv", required=True, help="output CSV: the time column and `forecast` column(s)")
    forecast.add_argument("--plot", help="also save the forecast plot as this PNG")
    forecast.add_argument("--level", type=float, nargs="+", help="0.8: add lower/upper columns (the members' "
                          "interval, calibrated); 80 95: the peers' <alias>-lo-95 ... <alias>-hi-95 columns")
    forecast.add_argument("--quantiles", type=float, nargs="+", help="add a column per quantile, e.g. 0.1 0.5 0.9")

    evaluate = commands.add_parser("evaluate", help="score a run on its holdout beside the baselines")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.add_argument("--per-series", help="panel runs: write every series' errors to this CSV")
    evaluate.add_argument("--level", type=float, nargs="+", help="also score intervals (coverage, width, MSIS) at "
                          "these levels (80 95, or 0.8) and the quantiles' QL and scaled CRPS")

    dataset = commands.add_parser("dataset", help="write a shipped dataset as CSV")
    dataset.add_argument("name", choices=["airline"])
    dataset.add_argument("out", help="output CSV path")

    export = commands.add_parser("export", help="write a run as a served forecaster (jax.export StableHLO + metadata)")
    export.add_argument("run_dir")
    export.add_argument("out", help="a new directory for the artifact")

    kernel = commands.add_parser("kernel", help="say whether the CPU recurrence kernel is in use; --build compiles it")
    kernel.add_argument("--build", action="store_true", help="compile it with this machine's C++ compiler, then "
                        "time it against the scan (--measure)")
    kernel.add_argument("--measure", action="store_true", help="time the kernel against XLA's scan at a grid of "
                        "shapes and record which runs where")
    kernel.add_argument("--march", default="native", help="with --build: the instruction set to compile for "
                        "(default: this machine's; haswell: AVX2)")
    return parser


def _series_options(parser) -> None:
    """The data and model options `train` and `backtest` share."""
    parser.add_argument("data", help="CSV file with a header row")
    parser.add_argument("--id", help="series id column: the CSV is a panel (long format), one global model")
    parser.add_argument("--static", action="append", default=[], help="panel: per-series column (repeatable)")
    parser.add_argument("--loss", choices=config.LOSSES,
                        help="training loss (default: pinball at --quantile)")
    parser.add_argument("--quantile", type=float, help="the pinball loss's quantile (default 0.48)")
    parser.add_argument("--distribution", choices=distributions.DISTRIBUTIONS,
                        help="forecast a distribution (its own intervals and quantiles); negative_binomial: counts")
    parser.add_argument("--sampling", choices=["window", "series"], default="window",
                        help="panel batches: every window equally likely, or every series")
    parser.add_argument("--target", action="append",
                        help="target column (repeat for several; default: the one value column, or y)")
    parser.add_argument("--time", help="timestamp column (calendar features, frequency, timestamps in forecasts)")
    parser.add_argument("--horizon", type=int, required=True, help="steps to forecast")
    parser.add_argument("--steps", type=int, default=1500, help="most Adam steps (early stopping may end sooner)")
    parser.add_argument("--context", type=int, help="input window length (default 2 seasons, or 24)")
    parser.add_argument("--validation", type=int, help="rows before the holdout/origin used for early stopping")
    parser.add_argument("--covariate", action="append", default=[], help="past covariate column (repeatable)")
    parser.add_argument("--future-covariate", action="append", default=[], help="known-future covariate (repeatable)")
    parser.add_argument("--no-calendar", action="store_true", help="no calendar features from the timestamps")
    parser.add_argument("--season", type=int, help="seasonal period (default from the frequency)")
    parser.add_argument("--transform", choices=["none", "log", "auto"],
                        help="log: model log values; default auto (log for each series positive before the holdout)")
    parser.add_argument("--normalize", choices=["auto"], default="auto",
                        help="kept for 0.1 scripts: every window is measured from its level (the only choice)")
    parser.add_argument("--fill", action="store_true",
                        help="reindex irregular timestamps (one series or each of a panel) to their grid; inserted rows are missing values")
    parser.add_argument("--hidden-dim", type=int, help="LSTM width (default 64; --local 16)")
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, help="decoupled weight decay (AdamW); default plain Adam")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first member (members use seed, seed+1, ...)")
    parser.add_argument("--patience", type=int, default=20, help="evaluations without improvement before stopping")
    parser.add_argument("--eval-every", type=int, default=10, help="steps between validation evaluations (10)")
    parser.add_argument("--members", type=int, default=1, help="seed ensemble size, trained in one compiled call")
    parser.add_argument("--combine", choices=[c or "none" for c in config.COMBINES], default="auto",
                        help="average the network's forecast with the mean of the Theta method's and a damped "
                             "trend's ('auto', the default: unless there are covariates; 'theta+damped' always), "
                             "with Theta's alone ('theta'), or 'none': the network's alone")
    parser.add_argument("--no-progress", action="store_true")


def _series_kwargs(args) -> dict:
    """The data options and the forecaster's options given on the command line (the rest keep their defaults)."""
    chosen = dict(
        id=args.id, static=args.static, loss=args.loss, quantile=args.quantile, distribution=args.distribution,
        sampling=args.sampling, target=args.target, time=args.time, horizon=args.horizon, context=args.context,
        validation=args.validation, covariates=args.covariate, future_covariates=args.future_covariate,
        calendar=not args.no_calendar, season=args.season,
        transform=args.transform, fill=args.fill, hidden_dim=args.hidden_dim, num_layers=args.num_layers,
        steps=args.steps, learning_rate=args.learning_rate, weight_decay=args.weight_decay,
        batch_size=args.batch_size, seed=args.seed, patience=args.patience, eval_every=args.eval_every,
        members=args.members, combine=None if args.combine == "none" else args.combine, progress=not args.no_progress)
    return {k: v for k, v in chosen.items() if v is not None or k in ("patience", "weight_decay", "combine")}


def _train(args) -> None:
    from jaxseries import api, metrics

    start = time.perf_counter()
    run = api.train_series(
        args.data, **_series_kwargs(args), holdout=args.holdout, strategy=args.strategy, refit=args.refit,
        checkpoint_dir=args.out, checkpoint_every=args.checkpoint_every, resume=args.resume, overwrite=args.overwrite,
        auto=args.auto, budget_s=args.budget, mode="local" if args.local else "global",
    )
    print(f"trained {len(run.history)} steps in {time.perf_counter() - start:.1f} s; best validation step "
          f"{run.best_step}; saved to {args.out}")
    if "auto" in run.extra and not args.holdout:
        _print_auto(metrics.auto_table(run.extra["auto"]))
    if args.holdout:
        _print_evaluation(metrics.evaluate(run))


def _print_auto(table) -> None:
    print("auto: candidates scored by a backtest before the holdout (mean MASE; lowest chosen):")
    print(table.round(4).to_string(index=False))


def _print_evaluation(report: dict) -> None:
    if "auto" in report:
        _print_auto(report["auto"])
    print(f"holdout, {report['horizon']}-step forecast of {report['series']} series in their units; mean over series "
          f"(sMAPE 0-200 as in M3; MASE against each series' in-sample seasonal naive):")
    print(report["overall"].round(3).to_string())
    print(f"jaxseries beats seasonal naive (sMAPE) on {report['beats_seasonal_naive']:.1%} of series")


def _forecast(args) -> None:
    from jaxseries import forecasting, forecasts, plots, runs

    run = runs.load(args.run_dir)
    frame = forecasts.forecast(run, horizon=args.horizon, level=_level(args.level), quantiles=args.quantiles)
    single = bool(forecasting.panel_spec(run).targets)
    frame.to_csv(args.csv, index=single)
    print(f"wrote {len(frame)} rows to {args.csv}")
    if args.plot:
        print(f"plot saved to {plots.save(plots.plot_forecast(run, forecast=frame), args.plot)}")


def _level(values: list | None):
    """One fraction (--level 0.8) keeps the lower/upper columns; percentages (--level 80 95) the peers' frame."""
    return values[0] if values and len(values) == 1 and values[0] < 1 else values


def _evaluate(args) -> None:
    from jaxseries import checkpoint, metrics, runs

    run = runs.load(args.run_dir)
    report = metrics.evaluate(run, level=_level(args.level))
    if args.per_series:
        report["per_series"].to_csv(args.per_series)
    probabilistic = {key: {str(k): {m: checkpoint.json_number(v) for m, v in row.items()}
                           for k, row in report[key].iterrows()} for key in ("intervals", "probabilistic") if key in report}
    if not args.json:
        _print_evaluation(report)
        print("MAPE% by horizon step (mean over series):")
        print(report["per_step"].round(2).to_string())
        for key, title in (("intervals", "Intervals (mean over series):"),
                           ("probabilistic", "Quantile loss and scaled CRPS (deciles 0.1-0.9; baselines as points):")):
            if key in report:
                print(title)
                print(report[key].round(3).to_string())
        return
    auto = {"auto": run.extra["auto"]} if "auto" in run.extra else {}
    print(json.dumps({
        "horizon": report["horizon"], "series": report["series"],
        "beats_seasonal_naive": report["beats_seasonal_naive"],
        "metrics": {name: {m: checkpoint.json_number(v) for m, v in row.items()} for name, row in report["overall"].iterrows()},
        "per_step_mape": {name: [checkpoint.json_number(v) for v in col] for name, col in report["per_step"].items()},
        **probabilistic, **auto,
    }, indent=2))


def _backtest(args) -> None:
    from jaxseries import api

    result = api.backtest(args.data, **_series_kwargs(args), folds=args.folds, stride=args.stride, refit=args.refit,
                          level=args.level)
    if args.csv:
        result.forecasts.to_csv(args.csv, index=False)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return
    print(f"{args.folds} folds{' (refit)' if args.refit else ''} in {result.seconds:.1f} s; horizon {args.horizon}; "
          "mean over series and folds, in the series' units (sMAPE 0-200 as in M3):")
    print(result.overall.round(3).to_string())
    print("per fold, sMAPE:")
    print(result.folds["sMAPE"].unstack("forecaster").round(2).assign(
        rows_after_origin=result.folds["rows_after_origin"].xs("jaxseries", level="forecaster")).to_string())
    if result.coverage is not None:
        print(f"{result.level:.0%} interval coverage: {result.coverage:.1%}; mean width "
              f"{result.intervals['width'].mean():.4g}, MSIS {result.intervals['MSIS'].mean():.3f}")
    print(f"steps chosen by the backtest (median best step): {result.chosen_steps}")
    if args.csv:
        print(f"wrote {len(result.forecasts)} rows to {args.csv}")


def _dataset(args) -> None:
    import shutil

    from jaxseries import datasets

    shutil.copyfile(datasets.airline_csv_path(), args.out)
    print(f"wrote {args.out} (columns month, passengers)")


def _export(args) -> None:
    from jaxseries import runs, serving

    print(f"wrote the served forecaster to {serving.export(runs.load(args.run_dir), args.out)} "
          "(load it with jaxseries.serving.load)")


def _kernel(args) -> None:
    from jaxseries import kernel

    if args.build and kernel.build(march=args.march) is None:
        raise FileNotFoundError("the kernel was not built (reason above); the XLA path stays in use")
    if args.measure and not args.build:
        if not kernel.LIBRARY.exists():
            raise FileNotFoundError("no kernel to measure: build it first (`jaxseries kernel --build`)")
        kernel.record(kernel.measure())
    print(f"CPU recurrence kernel: {kernel.status()}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from jaxseries import demo

            demo.run(args.out, progress=not args.no_progress)
        else:
            {"train": _train, "backtest": _backtest, "forecast": _forecast, "evaluate": _evaluate, "dataset": _dataset,
             "kernel": _kernel, "export": _export}[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, FloatingPointError) as error:
        print(f"jaxseries {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`jaxseries evaluate RUN | head`): end quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter's final flush must not fail
        return 0
    return 0
