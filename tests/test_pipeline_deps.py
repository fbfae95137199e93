"""Every DVC stage lists, in its deps, the package modules that its command runs or imports."""

import ast
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops_ladder import ladder

LEVELS_WITH_DVC = [level for level in ladder.levels() if level >= 2]


def imported_modules(source: Path, package: str, subcommand: str | None = None) -> set[str]:
    """The package modules a module imports, at any depth of its code.

    With a subcommand, the CLI's `if args.command == "other":` branches are skipped: only the
    imports of the branch that `subcommand` runs count, besides the module-level ones.
    """
    folder = source.parent
    found: set[str] = set()

    def add(name: str) -> None:
        if (folder / f"{name}.py").exists():
            found.add(name)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and subcommand is not None:
            branch = _dispatched_command(node.test)
            if branch is not None and branch != subcommand:
                for other in node.orelse:
                    visit(other)
                return
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0:
                if module != package and not module.startswith(f"{package}."):
                    return
                module = module.removeprefix(package).lstrip(".")
            if module:  # from .x import y, from pkg.x.z import y
                add(module.split(".")[0])
            else:  # from . import x, from pkg import x: x may be a module
                for alias in node.names:
                    add(alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{package}."):
                    add(alias.name.split(".")[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source.read_text(encoding="utf-8")))
    return found


def _dispatched_command(test: ast.expr) -> str | None:
    """ "X" for a test like `args.command == "X"`, else None."""
    if (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Attribute)
        and test.left.attr == "command"
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and isinstance(test.comparators[0], ast.Constant)
    ):
        value = test.comparators[0].value
        return value if isinstance(value, str) else None
    return None


def entry_points(cmd: str, package: str) -> list[tuple[str, str | None]]:
    """(module, subcommand) for each `python -m pkg.module` or `python -m pkg SUB` in a command."""
    words = shlex.split(cmd)
    found = []
    for i, word in enumerate(words[:-1]):
        if word != "-m":
            continue
        target = words[i + 1]
        if target == package:
            found.append(("__main__", words[i + 2] if i + 2 < len(words) else None))
        elif target.startswith(f"{package}."):
            found.append((target.split(".")[1], None))
    return found


def modules_run(project: Path, package: str, cmd: str) -> set[str]:
    """The package modules a stage's command runs: its entry points and, transitively, imports."""
    folder = project / "src" / package
    todo = entry_points(cmd, package)
    seen: set[str] = set()
    while todo:
        module, subcommand = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        imported = imported_modules(folder / f"{module}.py", package, subcommand)
        todo += [(name, subcommand) for name in imported - seen]
    return seen


# They hold no logic: a docstring, and `__main__` the call of the CLI.
NOT_REQUIRED = {"__init__.py", "__main__.py"}


def missing_deps(project: Path) -> dict[str, list[str]]:
    """Stage -> the module files it runs but does not list; a dep on the package folder has all.
    A stage whose command runs no `python -m <package>...` that this test can follow is listed
    too, so that a stage cannot pass unchecked."""
    package = next(project.glob("src/*/__init__.py")).parent.name
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    missing = {}
    for name, stage in stages.items():
        cmd = stage["cmd"] if isinstance(stage["cmd"], str) else " && ".join(stage["cmd"])
        if not entry_points(cmd, package):
            missing[name] = [f"(its cmd {cmd!r} runs no `python -m {package}...` to follow)"]
            continue
        deps = {str(dep).rstrip("/") for dep in stage.get("deps", [])}
        if f"src/{package}" in deps:
            continue
        needed = {f"src/{package}/{module}.py" for module in modules_run(project, package, cmd)}
        allowed = {f"src/{package}/{module}" for module in NOT_REQUIRED}
        if absent := sorted(needed - deps - allowed):
            missing[name] = absent
    return missing


@pytest.mark.parametrize("level", LEVELS_WITH_DVC)
def test_pipeline__every_stage_lists_the_modules_it_runs(
    bake: Callable[..., Path], level: int
) -> None:
    missing = missing_deps(bake(level))
    assert not missing, "\n".join(
        f"level {level} dvc.yaml: stage {stage!r} does not list in its deps: {', '.join(files)}"
        for stage, files in missing.items()
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_missing_deps__follows_imports_of_every_form(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "pkg"
    write(pkg / "__init__.py", '"""A package."""\n')
    write(pkg / "a.py", "import json\n\nfrom . import b\n\n\ndef f():\n    from .c import g\n")
    write(pkg / "b.py", "from pkg.d import x\n")
    write(pkg / "c.py", "import pkg.e\n")
    write(pkg / "d.py", "x = 1\n")
    write(pkg / "e.py", "")
    write(pkg / "unused.py", "")
    stages = {
        "partial": {"cmd": "python -m pkg.a", "deps": ["src/pkg/a.py", "src/pkg/c.py", "data/x"]},
        "folder": {"cmd": "python -m pkg.a", "deps": ["src/pkg/"]},
        "complete": {"cmd": "python -m pkg.d", "deps": ["src/pkg/d.py"]},
    }
    write(tmp_path / "dvc.yaml", yaml.safe_dump({"stages": stages}))

    assert missing_deps(tmp_path) == {"partial": ["src/pkg/b.py", "src/pkg/d.py", "src/pkg/e.py"]}


def test_missing_deps__a_cli_subcommand_needs_only_its_own_branch(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "pkg"
    write(pkg / "__init__.py", "")
    write(pkg / "__main__.py", "from .cli import main\n\nmain()\n")
    cli = (
        "from .config import load\n\n\ndef main(args):\n"
        '    if args.command == "serve":\n        from .serve import app\n'
        '    elif args.command == "train":\n        from . import train\n'
    )
    write(pkg / "cli.py", cli)
    for module in ("config", "serve", "train"):
        write(pkg / f"{module}.py", "")
    stages = {"train": {"cmd": "python -m pkg train --fast", "deps": ["src/pkg/cli.py"]}}
    write(tmp_path / "dvc.yaml", yaml.safe_dump({"stages": stages}))

    assert missing_deps(tmp_path) == {"train": ["src/pkg/config.py", "src/pkg/train.py"]}


def test_missing_deps__a_stage_whose_command_cannot_be_followed_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "src" / "pkg" / "__init__.py", "")
    stages = {
        "script": {"cmd": "make train", "deps": ["Makefile"]},
        "listed": {"cmd": ["echo start", "python -m pkg.x"], "deps": ["src/pkg/x.py"]},
    }
    write(tmp_path / "src" / "pkg" / "x.py", "")
    write(tmp_path / "dvc.yaml", yaml.safe_dump({"stages": stages}))

    assert missing_deps(tmp_path) == {
        "script": ["(its cmd 'make train' runs no `python -m pkg...` to follow)"]
    }
