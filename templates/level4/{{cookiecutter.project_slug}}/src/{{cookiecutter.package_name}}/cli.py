"""The project's command line: one command per task (`--help` lists them).

Each command is one function, registered where it is defined with `@command(...)`: its name, its
help and its arguments. Adding a command adds a function; nothing else changes. A command that
takes `settings` gets them; the others run without them.
"""

import argparse
import inspect
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from . import registry, tracking
from .config import PARAMS_FILE, Settings, SettingsError, load_settings
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

# The command that [project.scripts] in pyproject.toml installs (`__main__` gives its own name).
COMMAND = "{{ cookiecutter.project_slug | replace('_', '-') }}"

Argument = tuple[tuple[str, ...], dict[str, Any]]
Handler = Callable[..., None]  # (args) or (args, settings)


@dataclass(frozen=True)
class Command:
    summary: str
    arguments: tuple[Argument, ...]
    handler: Handler

    @property
    def uses_settings(self) -> bool:
        return "settings" in inspect.signature(self.handler).parameters


COMMANDS: dict[str, Command] = {}


def arg(*flags: str, **options: Any) -> Argument:
    """One argument of a command, as `argparse.ArgumentParser.add_argument` takes it."""
    return flags, options


def command(name: str, summary: str, *arguments: Argument) -> Callable[[Handler], Handler]:
    """Register the decorated function as the command `name`."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = Command(summary, arguments, handler)
        return handler

    return register


def _month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2024-01")
    return text


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


T = TypeVar("T")


def _given(value: T | None, default: T) -> T:
    """An option the command line gave, or else its setting."""
    return default if value is None else value


def _port_number(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return seconds


def _or_env(given: T | None, name: str, default: str, parse: Callable[[str], T]) -> T:
    """An option the command line gave, else the environment variable `name` (checked as the
    option is: a bad value names the variable), else `default`."""
    if given is not None:
        return given
    text = os.environ.get(name) or default
    try:
        return parse(text)
    except argparse.ArgumentTypeError as error:
        raise ValueError(f"${name}: {error}") from None


def _port(given: int | None) -> int:
    """The service's port: --port, else $SERVE_PORT, else 8000."""
    return _or_env(given, "SERVE_PORT", "8000", _port_number)


@command(
    "simulate",
    "write simulated monthly trip records",
    arg("months", nargs="+", type=_month, metavar="MONTH"),
    arg("--rides", type=_positive, help="rides per month (default: data.rides)"),
    arg("--scenario", choices=sorted(SCENARIOS), default="none"),
    arg("--seed", type=int, help="default: data.seed"),
    arg("--data-dir", type=Path, help="default: paths.raw"),
)
def simulate_months(args: argparse.Namespace, settings: Settings) -> None:
    rides = _given(args.rides, settings.data.rides)
    for month in args.months:
        path = write_month(
            month,
            _given(args.data_dir, settings.paths.raw),
            rides,
            args.scenario,
            _given(args.seed, settings.data.seed),
        )
        print(f"simulated {rides} rides ({args.scenario}) -> {path}")


@command(
    "train",
    "train on one month, validate on the next",
    arg("--train-month", type=_month, help="default: data.train_month"),
    arg("--val-month", type=_month, help="default: data.val_month"),
    arg("--alpha", type=float, help="default: train.alpha"),
    arg("--data-dir", type=Path, help="default: paths.raw"),
    arg("--model", type=Path, help="default: paths.model"),
)
def train_model(args: argparse.Namespace, settings: Settings) -> None:
    data_dir = _given(args.data_dir, settings.paths.raw)
    train_month = _given(args.train_month, settings.data.train_month)
    val_month = _given(args.val_month, settings.data.val_month)
    rides = clean(read_month(month_path(data_dir, train_month)))
    alpha = _given(args.alpha, settings.train.alpha)
    model = train(rides, alpha, settings.train.categorical, settings.train.numerical)
    val_rmse = rmse(model, clean(read_month(month_path(data_dir, val_month))))
    print(f"trained on {len(rides)} rides of {train_month}")
    print(f"validation RMSE ({val_month}): {val_rmse:.4f} minutes")
    print(f"model -> {save_model(model, _given(args.model, settings.paths.model))}")


@command(
    "predict",
    "predict durations for a trip-record file",
    arg("rides", type=Path, help="parquet file in the TLC schema"),
    arg("--model", type=Path, help="default: paths.model"),
    arg("--output", type=Path, default=Path("predictions.parquet")),
)
def predict_file(args: argparse.Namespace, settings: Settings) -> None:
    rides = read_month(args.rides)
    predicted = predict(load_model(_given(args.model, settings.paths.model)), rides)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    rides.assign(**{PREDICTION: predicted}).to_parquet(args.output, index=False)
    scored = int(predicted.notna().sum())
    print(f"{scored} predictions (mean {predicted.mean():.2f} min) -> {args.output}")
    if scored < len(predicted):
        print(f"{len(predicted) - scored} rides lack a feature's value: their prediction is NaN")


@command("check", "fail when the validation RMSE is worse than the floor")
def check_floor(args: argparse.Namespace, settings: Settings) -> None:
    problem = floor_problem(settings.paths.metrics, settings.evaluate.max_rmse)
    if problem:
        raise ValueError(problem)
    print(f"validation RMSE within the floor evaluate.max_rmse = {settings.evaluate.max_rmse}")


@command(
    "serve",
    "serve the champion over HTTP (also in the image)",
    arg("--host", help="default: $SERVE_HOST, else 127.0.0.1"),
    arg("--port", type=_port_number, help="default: $SERVE_PORT, else 8000"),
    arg(
        "--reload-seconds",
        type=_seconds,
        help="poll the registry and reload when the champion changes (0: only POST /reload; "
        "default: $RELOAD_SECONDS, else 0)",
    ),
    arg(
        "--max-body-bytes",
        type=_positive,
        help="a larger request body gets a 413 before it is read whole "
        "(default: $MAX_BODY_BYTES, else 1000000)",
    ),
    arg("--pid-file", type=Path, help="write the PID here while serving"),
)
def serve_champion(args: argparse.Namespace) -> None:
    import uvicorn  # imported here: the other commands start faster without the web stack

    from .serve import create_app, open_writes_problem

    host, port = args.host or os.environ.get("SERVE_HOST", "127.0.0.1"), _port(args.port)
    # The token only from the environment: a command-line argument shows in `ps`.
    token = os.environ.get("SERVICE_TOKEN") or None
    problem = open_writes_problem(host, token, os.environ.get("ALLOW_OPEN_WRITES") == "1")
    if problem:
        raise ValueError(problem)
    tracking.connect(existing=True)
    app = create_app(
        reload_seconds=_or_env(args.reload_seconds, "RELOAD_SECONDS", "0", _seconds),
        token=token,
        max_body_bytes=_or_env(args.max_body_bytes, "MAX_BODY_BYTES", "1000000", _positive),
        code_version=os.environ.get("CODE_VERSION") or None,  # the image's commit
    )
    with recorded_pid(args.pid_file):
        uvicorn.run(app, host=host, port=port)


@command(
    "stop",
    "stop the local service that deploy or serve started",
    arg("--pid-file", type=Path, default=PID_FILE),
)
def stop_service(args: argparse.Namespace) -> None:
    print(stop_local(args.pid_file))


@command(
    "deploy",
    "make the service serve the current champion",
    arg("--url", help="a running service to reload (default: the local one)"),
    arg(
        "--port",
        type=_port_number,
        help="the local service's port (default: $SERVE_PORT, else 8000)",
    ),
    arg(
        "--image-tag",
        help="first roll this image out to the service (docker compose over ssh, see the README)",
    ),
)
def deploy_service(args: argparse.Namespace) -> None:
    tracking.connect(existing=True)
    champion = registry.version_for(registry.CHAMPION)
    if champion is None:
        raise ValueError("the registry has no champion yet: run the pipeline (dvc repro)")
    try:
        print(deploy_champion(champion, args.url, _port(args.port), args.image_tag))
    except RuntimeError as error:
        raise ValueError(f"deploy failed: {error}") from None


@command("decision", "the gate's last decision, as GitHub step outputs")
def gate_decision(args: argparse.Namespace, settings: Settings) -> None:
    decision = json.loads(settings.paths.gate.read_text())
    print(f"promoted={str(decision['promoted']).lower()}")
    print(f"version={decision['challenger_version']}")


@command(
    "changed",
    "whether the image's code changed since a commit, as a GitHub step output",
    arg("base", nargs="?", default="", help="the earlier commit (none: changed)"),
    arg("--head", default="HEAD", help="the later commit"),
)
def code_changed_since(args: argparse.Namespace) -> None:
    changed, why = code_changed(args.base, args.head)
    print(f"code={str(changed).lower()}")
    print(f"{'build the image' if changed else 'no image to build'}: {why}", file=sys.stderr)


@command("monitor", "drift and live error of the logged traffic; a report")
def monitor_traffic(args: argparse.Namespace, settings: Settings) -> None:
    from . import monitor  # imported here: Evidently takes seconds to import

    print(json.dumps(monitor.summary(*monitor.run(settings, PredictionLog())), indent=2))
    print(f"report -> {settings.paths.monitoring / 'report.html'}")


@command("dashboard", "the monitoring runs and retraining decisions over time, as one page")
def dashboard_page(args: argparse.Namespace, settings: Settings) -> None:
    print(f"dashboard -> {build_dashboard(settings, PredictionLog())}")


@command(
    "retrain-if-needed",
    "monitor; retrain and release through the gate if needed",
    arg("--url", help="the service to reload on promotion (default: local)"),
    arg(
        "--port",
        type=_port_number,
        help="the local service's port (default: $SERVE_PORT, else 8000)",
    ),
)
def retrain_when_needed(args: argparse.Namespace, settings: Settings) -> None:
    from .retrain import retrain_if_needed  # imported here: Evidently takes seconds to import

    try:
        outcome = retrain_if_needed(settings, PredictionLog(), args.url, _port(args.port))
    except Locked as error:
        print(f"another retraining is running: {error}", file=sys.stderr)
        raise SystemExit(3) from None
    deployed = f"; {outcome.deployed}" if outcome.deployed else ""
    print(f"{outcome.action}: {outcome.reason}{deployed}")


@command(
    "reset-demo",
    "stop the local service; undo the replayed traffic and retrainings",
    arg(
        "--port",
        type=_port_number,
        help="the local service's port (default: $SERVE_PORT, else 8000)",
    ),
)
def reset_the_demo(args: argparse.Namespace, settings: Settings) -> None:
    from .retrain import reset_demo  # imported here: Evidently takes seconds to import

    for line in reset_demo(settings, _port(args.port)):
        print(line)


@command(
    "feedback",
    "load actual durations from a file",
    arg("file", type=Path, help="parquet or CSV: request_id, row, duration"),
    arg("--correct", action="store_true", help="replace durations already stored (a correction)"),
)
def load_feedback(args: argparse.Namespace) -> None:
    from pydantic import ValidationError

    from .serve import Feedback  # a file's rows pass the checks that POST /feedback makes

    if args.file.suffix == ".csv":  # a request id of digits (and an e) is still a string
        table = pd.read_csv(args.file, dtype={"request_id": str})
    else:
        table = pd.read_parquet(args.file)
    columns = ["request_id", "row", "duration"]
    if missing := [column for column in columns if column not in table.columns]:
        raise ValueError(f"{args.file} has no column {', '.join(missing)}; it needs {columns}")
    items = []
    for number, row in enumerate(table[columns].to_dict(orient="records")):
        try:
            items.append(Feedback.model_validate(row).model_dump())
        except ValidationError as error:
            wrong = error.errors()[0]
            where = ".".join(str(part) for part in wrong["loc"])
            raise ValueError(
                f"{args.file}, record {number}: {where}: {wrong['msg']}; nothing was stored"
            ) from None
    outcome = PredictionLog(existing=True).add_feedback(items, correct=args.correct)
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


@command(
    "replay",
    "replay simulated traffic against the service",
    arg("month", type=_month),
    arg("--scenario", choices=sorted(SCENARIOS), default="none"),
    arg("--rides", type=_positive, default=2000),
    arg("--batch", type=_positive, default=100, help="rides per request (at most 1000)"),
    arg("--no-feedback", dest="feedback", action="store_false"),
    arg("--url", help="the service (default: http://127.0.0.1:$SERVE_PORT, else port 8000)"),
)
def replay_scenario(args: argparse.Namespace) -> None:
    url = args.url or f"http://127.0.0.1:{_port(None)}"
    summary = replay_traffic(url, args.month, args.scenario, args.rides, args.batch, args.feedback)
    print(json.dumps(summary))


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--params", type=Path, default=PARAMS_FILE, help="the settings (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, spec in COMMANDS.items():
        sub = commands.add_parser(name, help=spec.summary, description=spec.summary)
        for flags, options in spec.arguments:
            sub.add_argument(*flags, **options)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = COMMAND) -> int:
    """Run one command; returns the process exit code. `prog` is how its usage names it."""
    parser = _parser(prog)
    args = parser.parse_args(argv)
    chosen = COMMANDS[args.command]
    try:
        settings = (load_settings(args.params),) if chosen.uses_settings else ()
    except SettingsError as error:
        parser.exit(2, f"error: {error}\n")
    try:
        chosen.handler(args, *settings)
    except (KeyError, IndexError):
        raise  # a bug, not a missing model or log: its traceback says where
    except (FileNotFoundError, ValueError, LookupError) as error:
        parser.exit(1, f"error: {error}\n")
    return 0
