"""Command line: simulate data, train, predict."""

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

from .config import Settings
from .data import clean, month_path, read_month
from .evaluate import rmse
from .predict import PREDICTION, predict
from .simulate import SCENARIOS, write_month
from .train import load_model, save_model, train

DEFAULTS = Settings()


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
    return parser


def main(argv: Sequence[str] | None = None, prog: str = COMMAND) -> int:
    """Run one command; returns the process exit code. `prog` is how its usage names it."""
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        _run(args)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(1, f"error: {error}\n")
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
