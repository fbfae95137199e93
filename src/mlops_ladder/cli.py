"""The `mlops-ladder` command: one handler per subcommand, registered beside its arguments.

mlops-ladder levels                      the levels and what each adds
mlops-ladder new N [FOLDER] [--force]    render level N and run its main pipeline
mlops-ladder diff A B [--html [PATH]]    what level B adds to level A, and why
mlops-ladder upgrade PATH [--to N]       level up a generated project, keeping your edits
mlops-ladder assess PATH [--json]        the level any repository reaches, and its next step

The nox sessions of a clone (`nox -s new`, `diff`, `upgrade`, `assess`) run this same command.
"""

import argparse
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__, assess, ladder, upgrade

Handler = Callable[[argparse.Namespace, argparse.ArgumentParser], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; its exit code."""
    parser = argparse.ArgumentParser(
        prog="mlops-ladder",
        description="Five cookiecutter templates, one per MLOps maturity level: render one, "
        "read what the next adds, level up your project, assess any repository.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in (_levels, _new, _diff, _upgrade, _assess):
        register(commands)
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["assess"]:  # assess parses its own arguments (see _assess)
        return _run_assess(arguments[1:])
    args = parser.parse_args(arguments)
    handler: Handler = args.handler
    return handler(args, args.parser)


def _command(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    help: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".")
    parser.set_defaults(handler=handler, parser=parser)
    return parser


def _levels(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    _command(commands, "levels", "the levels and what each adds", cmd_levels)


def cmd_levels(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print each level with its title and what it adds to the level below."""
    for level, (title, adds) in ladder.titles().items():
        name = title.split(": ", 1)[-1]
        print(f"{level}  {name:28s} {adds}")
    print("\nmlops-ladder new N renders level N; mlops-ladder diff N N+1 shows what it adds.")
    return 0


def _new(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = _command(commands, "new", "render a level and run its main pipeline", cmd_new)
    parser.add_argument("level", type=int, choices=ladder.levels())
    parser.add_argument(
        "folder",
        type=Path,
        nargs="?",
        help="where to render it (default: the current folder; in a clone of mlops-ladder, "
        "its out/levelN)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the project that FOLDER already holds"
    )


def cmd_new(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Render level N into FOLDER and run its first pipeline, as its README says."""
    folder = (args.folder or ladder.default_folder(args.level)).resolve()
    try:
        project = ladder.place(args.level, folder, args.force)
    except ladder.ProjectExists as error:
        parser.error(str(error))
    package = ladder.package_of(ladder.tree(project)) or project.name
    try:
        ladder.first_run(args.level, project, package)
    except subprocess.CalledProcessError as error:
        command = error.cmd if isinstance(error.cmd, str) else shlex.join(map(str, error.cmd))
        print(
            f"error: the first run stopped at `{command}` (exit code {error.returncode}); the "
            f"project is in {ladder.shown(project)}: fix the cause and run it there",
            file=sys.stderr,
        )
        return 1
    print(f"\nLevel {args.level} project ready in {ladder.shown(project)}")
    print(f"Next: cd {shlex.quote(ladder.shown(project))} and read its README.md")
    return 0


def _diff(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = _command(commands, "diff", "what level HIGH adds to level LOW, and why", cmd_diff)
    parser.add_argument("low", type=int, choices=ladder.levels(), nargs="?")
    parser.add_argument("high", type=int, choices=ladder.levels(), nargs="?")
    parser.add_argument(
        "--html",
        nargs="?",
        const="",
        metavar="PATH",
        help="also write a side-by-side page (default: diff-LOW-HIGH.html)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="(a clone's contributors) rewrite the golden diff of every adjacent pair",
    )


def cmd_diff(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the annotated diff of two levels, and write its page with --html."""
    if args.update:
        if args.low is not None or args.html is not None:
            parser.error("diff --update takes no levels and no --html: it rewrites every pair")
        if ladder.INSTALLED:
            parser.error("diff --update rewrites the golden diffs of a clone of mlops-ladder")
        for name, state in ladder.update_goldens(ladder.TEMPLATES).items():
            print(f"{state:9s} {name}")
        return 0
    if args.low is None or args.high is None:
        parser.error("diff needs two levels, LOW HIGH (or --update)")
    if args.low >= args.high:
        parser.error("diff LOW HIGH needs LOW < HIGH")
    page = None
    if args.html is not None:
        page = Path(args.html or f"diff-{args.low}-{args.high}.html")
        if page.is_dir():  # a folder: the page goes in it, under its default name
            page = page / f"diff-{args.low}-{args.high}.html"
        if not page.parent.is_dir():
            parser.error(f"--html {page}: the folder {page.parent} does not exist")
    sys.stdout.write(ladder.diff_text(args.low, args.high))
    if page:
        page.write_text(ladder.diff_html(args.low, args.high), encoding="utf-8")
        print(f"\nSide-by-side page written to {page.resolve()}")
    return 0


def _upgrade(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = _command(
        commands, "upgrade", "level up a generated project, keeping your edits", cmd_upgrade
    )
    parser.epilog = "Exit code 1: merged, with files left for you to decide about."
    parser.add_argument("project", type=Path, help="the project's folder (a clean git checkout)")
    parser.add_argument("--to", type=int, help="the level to reach (default: the next one)")
    parser.add_argument(
        "--clone",
        type=Path,
        metavar="PATH",
        help="a clone of mlops-ladder that holds the commit which rendered the project, when "
        "this installation is not that commit",
    )


def cmd_upgrade(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Merge what the next level adds into the project; 1 when files are left to decide."""
    try:
        outcome = upgrade.upgrade(args.project, args.to, clone=args.clone)
    except upgrade.Refused as refusal:
        print(f"upgrade refused: {refusal}", file=sys.stderr)
        return 2
    sys.stdout.write(upgrade.report(outcome, args.project.resolve()))
    return 1 if outcome.to_decide else 0


def _assess(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    # Listed for `mlops-ladder --help`; main() hands its arguments to assess's own parser.
    commands.add_parser("assess", help="the maturity level any repository reaches", add_help=False)


def _run_assess(argv: Sequence[str]) -> int:
    """assess.main parses its own arguments (PATH, --json); its usage line names this command."""
    name, sys.argv[0] = sys.argv[0], "mlops-ladder assess"
    try:
        return assess.main(argv)
    finally:
        sys.argv[0] = name
