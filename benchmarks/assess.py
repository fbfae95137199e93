"""`assess` on a large tree: 20,000 Python files by default (issue 15: at most 60 s).

    python benchmarks/assess.py [--files 20000] [--repeat 1] [--keep PATH]

Builds a tree of real code: level 4's package and test modules (its Jinja placeholders filled
in), copied round-robin into folders of 100 files, so the files average about 130 lines, as
a real project's do. Then times `assess` on it in a fresh process (the command a user runs,
`mlops-ladder assess PATH --json`), and prints files, seconds, files per second, the CPU seconds
it used (with the load average: other work on the machine slows the wall clock, not the CPU
time) and the level found.
A benchmark, not a test: nothing here asserts.
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "level4" / "{{cookiecutter.project_slug}}"


def modules() -> list[str]:
    """Level 4's Python modules as a rendered project has them."""
    paths = sorted([*TEMPLATE.glob("src/*/*.py"), *TEMPLATE.glob("tests/*.py")])
    return [re.sub(r"\{\{[^}]*\}\}", "taxi", path.read_text()) for path in paths]


def build(folder: Path, files: int) -> Path:
    sources = modules()
    for number in range(files):
        package = folder / f"pkg{number // 100:04d}"
        package.mkdir(exist_ok=True)
        (package / f"module{number % 100:02d}.py").write_text(sources[number % len(sources)])
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs to time (best is shown)")
    parser.add_argument("--keep", type=Path, help="build the tree here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        tree = args.keep or Path(temporary) / "tree"
        tree.mkdir(parents=True, exist_ok=True)
        build(tree, args.files)
        lines = sum(len(text.splitlines()) for text in modules()) / len(modules())
        print(f"{args.files:,} Python files, {lines:.0f} lines on average, in {tree}")
        timings, cpu = [], []
        for _ in range(args.repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "mlops_ladder", "assess", str(tree), "--json"],
                capture_output=True,
                text=True,
                check=True,
            )
            timings.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        result = json.loads(done.stdout)
        best = min(timings)
        load = os.getloadavg()[0]
        print(
            f"assess: {best:.1f} s (best of {args.repeat}), {args.files / best:,.0f} files/s,"
            f" {min(cpu):.1f} s of CPU on {os.cpu_count()} cores (load average {load:.1f}),"
            f" {result['files_read']:,} read, {len(result['skipped'])} skipped,"
            f" level {result['level']}"
        )


if __name__ == "__main__":
    main()
