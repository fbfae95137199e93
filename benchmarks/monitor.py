"""Level 4's monitoring over 10k, 100k and 1M logged predictions (time, peak memory), and the
scoring service's latency with prediction logging (level 4) and without it (level 3).

    python benchmarks/monitor.py [--sizes 10000 100000 1000000] [--requests 2000]
                                 [--level3 PATH --level4 PATH] [--seconds 5]

Renders levels 3 and 4 into a temp folder and trains both champions (the same model: same
seed, same data), or takes the first runs given. Each monitoring size runs in a fresh process
of the level-4 project, so its peak memory is its own. The latency part loads each service with
wrk (Debian's `wrk`) at 1, 8 and 32 connections, or, without wrk, with a Python client at 1 and
8 (which saturates first on 2 cores). A benchmark, not a test: nothing here asserts.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "e2e"), str(ROOT / "benchmarks")]

from serve import load, wrk  # noqa: E402
from services import background, dockerfile_command, free_port, wait_for  # noqa: E402

from mlops_ladder import ladder  # noqa: E402

MEASURE = """
import json, resource, sys, time
import pandas as pd
from {package} import registry, tracking
from {package}.config import load_settings, override
from {package}.monitor import measure, reference
from {package}.predlog import PredictionLog
from {package}.schema import FEATURES
tracking.connect()
settings, size = load_settings(), int(sys.argv[1])
release = registry.load(registry.CHAMPION)
ref = reference(release, settings)
sample = ref.sample(size, replace=True, random_state=0).reset_index(drop=True)
log = PredictionLog(f"sqlite:///{{sys.argv[2]}}")
rows = sample[[*(column.name for column in FEATURES), "prediction"]].assign(
    request_id=[f"r{{i}}" for i in range(size)], row=0, logged_at=pd.Timestamp("2024-03-01"),
    model_version=release.version)
with log.engine.begin() as connection:
    rows.to_sql("predictions", connection, if_exists="append", index=False, chunksize=50_000)
labelled = sample.assign(request_id=rows.request_id, row=0, received_at=pd.Timestamp("2024-03-02"))
with log.engine.begin() as connection:
    labelled[["request_id", "row", "duration", "received_at"]].iloc[: size // 2].to_sql(
        "feedback", connection, if_exists="append", index=False, chunksize=50_000)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
window = log.window(size)
# as monitor.run does when the window has enough of the champion's labelled rides
labelled = window[window["model_version"] == release.version].dropna(subset=["duration"])
read = time.perf_counter() - started
settings = override(settings, {{"monitor.window": size}})
figures, _ = measure(window, labelled, ref, release.version, settings)
total = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"size": size, "read_s": read, "total_s": total,
                  "peak_mb": peak / 1024, "added_mb": (peak - baseline) / 1024,
                  "live_rmse": figures.live_rmse}}))
"""


def champion(level: int, folder: Path) -> Path:
    project = ladder.render(level, folder)
    ladder.first_run(level, project, project.name)
    return project


CONNECTIONS = (1, 8, 32)  # wrk's


def latency(project: Path, requests: int, seconds: int) -> dict:
    port = free_port()
    command = dockerfile_command(project)
    command[0] = str(project / ".venv" / "bin" / command[0])
    env = {**ladder.project_env(), "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
           "PREDICTION_LOG_URL": f"sqlite:///{project / 'bench-predictions.db'}",
           "SERVE_HOST": "127.0.0.1", "SERVE_PORT": str(port)}  # fmt: skip
    body = json.dumps({"PULocationID": 74, "DOLocationID": 75, "trip_distance": 2.5}).encode()
    with background(command, project, env, project.parent / "serve.log") as process:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        load(port, "/predict", body, 200, 1)  # warm up
        if shutil.which("wrk"):
            return {c: wrk(port, "/predict", body, c, seconds) for c in CONNECTIONS}
        return {c: load(port, "/predict", body, requests, c) for c in (1, 8)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=2000, help="per level, without wrk")
    parser.add_argument("--seconds", type=int, default=5, help="per level and load, with wrk")
    parser.add_argument("--level3", type=Path, help="a level-3 first run to use")
    parser.add_argument("--level4", type=Path, help="a level-4 first run to use")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        level3 = args.level3 or champion(3, Path(workdir) / "level3")
        level4 = args.level4 or champion(4, Path(workdir) / "level4")
        monitoring = []
        for size in args.sizes:
            done = subprocess.run(
                [str(level4 / ".venv" / "bin" / "python"), "-c",
                 MEASURE.format(package=level4.name), str(size), f"{workdir}/log-{size}.db"],
                cwd=level4, env={**ladder.project_env(),
                                 "MLFLOW_TRACKING_URI": f"sqlite:///{level4 / 'mlflow.db'}"},
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            monitoring.append(json.loads(done.stdout.strip().splitlines()[-1]))
        without = latency(level3, args.requests, args.seconds)
        with_log = latency(level4, args.requests, args.seconds)
        for end in ("", "-wal", "-shm"):
            (level4 / f"bench-predictions.db{end}").unlink(missing_ok=True)

    print("\nMonitoring (read the window from SQLite + Evidently drift report + live RMSE)\n")
    print(f"{'rows':>9} | {'read s':>7} {'total s':>8} | {'peak MB':>8} {'added MB':>9}")
    print("-" * 50)
    for figure in monitoring:
        print(f"{figure['size']:>9,} | {figure['read_s']:>7.2f} {figure['total_s']:>8.2f} |"
              f" {figure['peak_mb']:>8.0f} {figure['added_mb']:>9.0f}")  # fmt: skip
    first, last = monitoring[0], monitoring[-1]
    growth = (last["total_s"] / first["total_s"]) / (last["size"] / first["size"])
    print(f"time grows {growth:.2f}x as fast as the rows (1.00 = linear)")

    client = "wrk" if shutil.which("wrk") else "a Python client"
    print(f"\nOne-ride /predict, {client}: level 3 (no log) vs level 4 (every prediction logged)\n")
    print(f"{'conc':>4} | {'no log p50':>10} {'p99':>6} {'req/s':>6} | {'logged p50':>10} "
          f"{'p99':>6} {'req/s':>6} | {'p50 +ms':>7} {'req/s kept':>10}")  # fmt: skip
    print("-" * 80)
    for c, a in without.items():
        b = with_log[c]
        print(
            f"{c:>4} | {a['p50']:>10.2f} {a['p99']:>6.2f} {a['rps']:>6.0f} | {b['p50']:>10.2f}"
            f" {b['p99']:>6.2f} {b['rps']:>6.0f} | {b['p50'] - a['p50']:>+7.3f}"
            f" {100 * b['rps'] / a['rps']:>9.0f}%"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
