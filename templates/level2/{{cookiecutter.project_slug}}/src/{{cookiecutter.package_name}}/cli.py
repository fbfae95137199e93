"""The project's command line: one command per task (`--help` lists them).

Each command is one function, registered where it is defined with `@command(...)`: its name, its
help and its arguments. Adding a command adds a function; nothing else changes. A command that
takes `settings` gets them; the others run without them.
"""

import argparse
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .config import PARAMS_FILE, Settings, SettingsError, load_settings
from .data import clean, month_path, read_month
from .evaluate import floor_problem, rmse
from .predict import PREDICTION, predict
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
    except (FileNotFoundError, ValueError) as error:
        parser.exit(1, f"error: {error}\n")
    return 0
