"""Command line: simulate data, train, predict."""

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import registry, tracking
from .config import PARAMS_FILE, Settings, load_settings
from .dashboard import build as build_dashboard
from .data import clean, month_path, read_month
from .deploy import PID_FILE, code_changed, recorded_pid, stop_local
from .deploy import deploy as deploy_champion
from .evaluate import floor_problem, rmse
from .predict import PREDICTION, predict
from .predlog import Locked, PredictionLog
from .replay import replay as replay_traffic
from .simulate import SCENARIOS, write_month
from .train import load_model, save_model, train

DEFAULTS = load_settings() if PARAMS_FILE.exists() else Settings()


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2024-01")
    return text


# The command that [project.scripts] in pyproject.toml installs (`__main__` gives its own name).
COMMAND = "{{ cookiecutter.project_slug | replace('_', '-') }}"


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="write simulated monthly trip records")
    simulate.add_argument("months", nargs="+", type=_month, metavar="MONTH")
    simulate.add_argument("--rides", type=int, default=DEFAULTS.rides)
    simulate.add_argument("--scenario", choices=sorted(SCENARIOS), default="none")
    simulate.add_argument("--seed", type=int, default=DEFAULTS.seed)
    simulate.add_argument("--data-dir", type=Path, default=DEFAULTS.data_dir)

    fit = commands.add_parser("train", help="train on one month, validate on the next")
    fit.add_argument("--train-month", type=_month, default=DEFAULTS.train_month)
    fit.add_argument("--val-month", type=_month, default=DEFAULTS.val_month)
    fit.add_argument("--alpha", type=float, default=DEFAULTS.alpha)
    fit.add_argument("--data-dir", type=Path, default=DEFAULTS.data_dir)
    fit.add_argument("--model", type=Path, default=DEFAULTS.model_path)

    score = commands.add_parser("predict", help="predict durations for a trip-record file")
    score.add_argument("rides", type=Path, help="parquet file in the TLC schema")
    score.add_argument("--model", type=Path, default=DEFAULTS.model_path)
    score.add_argument("--output", type=Path, default=Path("predictions.parquet"))

    commands.add_parser("check", help="fail when the validation RMSE is worse than the floor")

    serve = commands.add_parser("serve", help="serve the champion over HTTP (also in the image)")
    serve.add_argument("--host", default=os.environ.get("SERVE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("SERVE_PORT", "8000")))
    serve.add_argument(
        "--reload-seconds",
        type=float,
        default=float(os.environ.get("RELOAD_SECONDS", "0")),
        help="poll the registry and reload when the champion changes (0: only POST /reload)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(os.environ.get("MAX_BODY_BYTES", "1000000")),
        help="a larger request body gets a 413 before it is read whole",
    )
    serve.add_argument("--pid-file", type=Path, help="write the PID here while serving")
    stop = commands.add_parser("stop", help="stop the local service that deploy or serve started")
    stop.add_argument("--pid-file", type=Path, default=PID_FILE)
    deploy = commands.add_parser("deploy", help="make the service serve the current champion")
    deploy.add_argument("--url", help="a running service to reload (default: the local one)")
    deploy.add_argument("--port", type=int, default=int(os.environ.get("SERVE_PORT", "8000")))
    deploy.add_argument(
        "--image-tag",
        help="first roll this image out to the service (docker compose over ssh, see the README)",
    )
    commands.add_parser("decision", help="the gate's last decision, as GitHub step outputs")
    changed = commands.add_parser(
        "changed", help="whether the image's code changed since a commit, as a GitHub step output"
    )
    changed.add_argument("base", nargs="?", default="", help="the earlier commit (none: changed)")
    changed.add_argument("--head", default="HEAD", help="the later commit")

    commands.add_parser("monitor", help="drift and live error of the logged traffic; a report")
    commands.add_parser(
        "dashboard", help="the monitoring runs and retraining decisions over time, as one page"
    )
    retrain = commands.add_parser(
        "retrain-if-needed", help="monitor; retrain and release through the gate if needed"
    )
    retrain.add_argument("--url", help="the service to reload on promotion (default: local)")
    retrain.add_argument("--port", type=int, default=int(os.environ.get("SERVE_PORT", "8000")))
    reset = commands.add_parser(
        "reset-demo", help="stop the local service; undo the replayed traffic and retrainings"
    )
    reset.add_argument("--port", type=int, default=int(os.environ.get("SERVE_PORT", "8000")))
    feedback = commands.add_parser("feedback", help="load actual durations from a file")
    feedback.add_argument("file", type=Path, help="parquet or CSV: request_id, row, duration")
    feedback.add_argument(
        "--correct", action="store_true", help="replace durations already stored (a correction)"
    )
    replay = commands.add_parser("replay", help="replay simulated traffic against the service")
    replay.add_argument("month", type=_month)
    replay.add_argument("--scenario", choices=sorted(SCENARIOS), default="none")
    replay.add_argument("--rides", type=int, default=2000)
    replay.add_argument("--batch", type=int, default=100)
    replay.add_argument("--no-feedback", dest="feedback", action="store_false")
    replay.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('SERVE_PORT', '8000')}")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = COMMAND) -> int:
    """Run one command; returns the process exit code. `prog` is how its usage names it."""
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        _run(args)
    except (FileNotFoundError, ValueError, LookupError) as error:
        parser.exit(1, f"error: {error}\n")
    except Locked as error:
        parser.exit(3, f"another retraining is running: {error}\n")
    return 0


def _run(args: argparse.Namespace) -> None:
    if args.command == "simulate":
        for month in args.months:
            path = write_month(month, args.data_dir, args.rides, args.scenario, args.seed)
            print(f"simulated {args.rides} rides ({args.scenario}) -> {path}")
    elif args.command == "train":
        rides = clean(read_month(month_path(args.data_dir, args.train_month)))
        model = train(rides, args.alpha)
        val_rmse = rmse(model, clean(read_month(month_path(args.data_dir, args.val_month))))
        print(f"trained on {len(rides)} rides of {args.train_month}")
        print(f"validation RMSE ({args.val_month}): {val_rmse:.4f} minutes")
        print(f"model -> {save_model(model, args.model)}")
    elif args.command == "predict":
        rides = read_month(args.rides)
        predicted = predict(load_model(args.model), rides)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        rides.assign(**{PREDICTION: predicted}).to_parquet(args.output, index=False)
        print(f"{len(predicted)} predictions (mean {predicted.mean():.2f} min) -> {args.output}")
    elif args.command == "check":
        problem = floor_problem(DEFAULTS.metrics_path, DEFAULTS.max_rmse)
        if problem:
            raise ValueError(problem)
        print(f"validation RMSE within the floor evaluate.max_rmse = {DEFAULTS.max_rmse}")
    elif args.command == "serve":
        import uvicorn  # imported here: the other commands start faster without the web stack

        from .serve import create_app, open_writes_problem

        # The token only from the environment: a command-line argument shows in `ps`.
        token = os.environ.get("SERVICE_TOKEN") or None
        problem = open_writes_problem(args.host, token, os.environ.get("ALLOW_OPEN_WRITES") == "1")
        if problem:
            raise ValueError(problem)
        tracking.connect()
        app = create_app(
            reload_seconds=args.reload_seconds,
            token=token,
            max_body_bytes=args.max_body_bytes,
            code_version=os.environ.get("CODE_VERSION") or None,  # the image's commit
        )
        with recorded_pid(args.pid_file):
            uvicorn.run(app, host=args.host, port=args.port)
    elif args.command == "stop":
        print(stop_local(args.pid_file))
    elif args.command == "deploy":
        tracking.connect()
        champion = registry.version_for(registry.CHAMPION)
        if champion is None:
            raise ValueError("the registry has no champion yet: run the pipeline (dvc repro)")
        try:
            print(deploy_champion(champion, args.url, args.port, args.image_tag))
        except RuntimeError as error:
            raise ValueError(f"deploy failed: {error}") from None
    elif args.command == "monitor":
        from . import monitor  # imported here: Evidently takes seconds to import

        print(json.dumps(monitor.summary(*monitor.run(DEFAULTS, PredictionLog())), indent=2))
        print(f"report -> {DEFAULTS.monitoring_dir / 'report.html'}")
    elif args.command == "dashboard":
        print(f"dashboard -> {build_dashboard(DEFAULTS, PredictionLog())}")
    elif args.command == "retrain-if-needed":
        from .retrain import retrain_if_needed  # imported here: Evidently takes seconds to import

        outcome = retrain_if_needed(DEFAULTS, PredictionLog(), args.url, args.port)
        deployed = f"; {outcome.deployed}" if outcome.deployed else ""
        print(f"{outcome.action}: {outcome.reason}{deployed}")
    elif args.command == "reset-demo":
        from .retrain import reset_demo  # imported here: Evidently takes seconds to import

        for line in reset_demo(DEFAULTS, args.port):
            print(line)
    elif args.command == "feedback":
        table = pd.read_csv(args.file) if args.file.suffix == ".csv" else pd.read_parquet(args.file)
        items = table[["request_id", "row", "duration"]].to_dict(orient="records")
        outcome = PredictionLog().add_feedback(items, correct=args.correct)
        if outcome.unknown:
            raise ValueError(
                f"{len(outcome.unknown)} rows match no logged prediction, e.g. "
                f"{items[outcome.unknown[0]]}; nothing was stored"
            )
        if outcome.conflicts:
            position, stored = next(iter(outcome.conflicts.items()))
            raise ValueError(
                f"{len(outcome.conflicts)} rows already have another actual duration, e.g. "
                f"{items[position]} (stored: {stored}); nothing was stored. To replace them "
                "on purpose: feedback FILE --correct"
            )
        print(
            f"stored the actual durations of {outcome.stored} predictions; corrected "
            f"{outcome.corrected}; {outcome.already_stored} were already stored"
        )
    elif args.command == "replay":
        summary = replay_traffic(
            args.url, args.month, args.scenario, args.rides, args.batch, args.feedback
        )
        print(json.dumps(summary))
    elif args.command == "decision":
        decision = json.loads(DEFAULTS.gate_path.read_text())
        print(f"promoted={str(decision['promoted']).lower()}")
        print(f"version={decision['challenger_version']}")
    elif args.command == "changed":
        changed, why = code_changed(args.base, args.head)
        print(f"code={str(changed).lower()}")
        print(f"{'build the image' if changed else 'no image to build'}: {why}", file=sys.stderr)
