"""Level 3's scoring service against `mlflow models serve`, on the same model version.

    python benchmarks/serve.py [--project PATH] [--baseline PATH] [--requests N]

Without --project, renders level 3 into a temp folder and runs its pipeline to get a champion.
With --baseline (another level-3 project with a champion, for example one rendered from an older
commit), its service runs too, measured in the same run right after ours: what a change costs.
Both servers run one worker on 127.0.0.1; a stdlib client with keep-alive connections sends
single-row and 100-row requests at concurrency 1 and 8. Prints requests/s, p50 and p99 latency,
and the ratio against MLflow. This is a benchmark, not a test: nothing here asserts.
"""

import argparse
import contextlib
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "e2e")]

from services import background, dockerfile_command, free_port, wait_for  # noqa: E402

from mlops_ladder import ladder  # noqa: E402

RIDE = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 2.5}


def champion_project(folder: Path) -> Path:
    project = ladder.render(3, folder)
    ladder.first_run(3, project, project.name)
    return project


def load(port: int, path: str, body: bytes, requests: int, concurrency: int) -> dict:
    """Send `requests` POSTs from `concurrency` keep-alive clients; latency figures in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests // concurrency

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{path} answered {answer.status}")
            mine.append((time.perf_counter() - start) * 1000)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
    }


def wrk(port: int, path: str, body: bytes, connections: int, seconds: int = 5) -> dict:
    """The same figures as `load`, from wrk (Debian's `wrk`, a C load generator): on 2 cores a
    Python client saturates before the service does. Latency figures in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        script.flush()
        done = subprocess.run(
            ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s", "--latency",
             "-s", script.name, f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    printed = done.stdout
    if "Non-2xx" in printed or "Socket errors" in printed:
        raise RuntimeError(f"{path} failed under wrk:\n{printed}")
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    percentile = {
        share: float(value) * unit[suffix]
        for share, value, suffix in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)$", printed, re.M)
    }
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", printed, re.M).group(1))
    return {"rps": rps, "p50": percentile["50"], "p99": percentile["99"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a level-3 project with a champion")
    parser.add_argument("--baseline", type=Path, help="another level-3 project to compare with")
    parser.add_argument("--requests", type=int, default=2000, help="per configuration")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        project = args.project or champion_project(Path(workdir))
        tracking = f"sqlite:///{project / 'mlflow.db'}"
        env = ladder.project_env()
        # `mlflow models serve` starts `uvicorn` from PATH: the project's venv comes first.
        env["PATH"] = f"{project / '.venv' / 'bin'}:{env['PATH']}"
        env["MLFLOW_TRACKING_URI"] = tracking
        ours, theirs, base = free_port(), free_port(), free_port()
        model_uri = f"models:/{project.name}@champion"
        mlflow_serve = [
            str(project / ".venv" / "bin" / "mlflow"), "models", "serve", "-m", model_uri,
            "--env-manager", "local", "--host", "127.0.0.1", "--port", str(theirs), "-w", "1",
        ]  # fmt: skip
        logs = Path(workdir)
        with contextlib.ExitStack() as running:
            services = {"ours": (ours, "/predict"), "mlflow": (theirs, "/invocations")}
            start = [("ours", project, ours)]
            if args.baseline:
                start.append(("baseline", args.baseline.resolve(), base))
            for name, folder, port in start:
                command = dockerfile_command(folder)
                command[0] = str(folder / ".venv" / "bin" / command[0])
                folder_env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
                              "SERVE_HOST": "127.0.0.1", "SERVE_PORT": str(port)}  # fmt: skip
                process = running.enter_context(
                    background(command, folder, folder_env, logs / f"{name}.log")
                )
                wait_for(f"http://127.0.0.1:{port}/health", process)
                services[name] = (port, "/predict")
            process = running.enter_context(
                background(mlflow_serve, project, env, logs / "mlflow.log")
            )
            wait_for(f"http://127.0.0.1:{theirs}/health", process, seconds=180)
            rows = []
            for size in (1, 100):
                bodies = {
                    "/predict": json.dumps(RIDE if size == 1 else [RIDE] * size).encode(),
                    "/invocations": json.dumps({"dataframe_records": [RIDE] * size}).encode(),
                }
                for concurrency in (1, 8):
                    count = args.requests if size == 1 else args.requests // 4
                    for port, path in services.values():  # warm up each
                        load(port, path, bodies[path], 100, 1)
                    figures = {
                        name: load(port, path, bodies[path], count, concurrency)
                        for name, (port, path) in services.items()
                    }
                    rows.append((size, concurrency, figures))

    print("\nScoring service (level 3) vs `mlflow models serve --env-manager local`")
    print("same model version, one worker each, 127.0.0.1, 2-core machine\n")
    header = f"{'rows':>4} {'conc':>4} | {'ours req/s':>10} {'p50 ms':>7} {'p99 ms':>7}"
    header += f" | {'mlflow req/s':>12} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5}"
    if args.baseline:
        header += f" | {'baseline req/s':>14} {'p50 ms':>7} | {'ratio':>5} {'p50 +ms':>7}"
    print(header)
    print("-" * len(header))
    for size, concurrency, figures in rows:
        a, b = figures["ours"], figures["mlflow"]
        line = (
            f"{size:>4} {concurrency:>4} | {a['rps']:>10.0f} {a['p50']:>7.2f} {a['p99']:>7.2f}"
            f" | {b['rps']:>12.0f} {b['p50']:>7.2f} {b['p99']:>7.2f} | {a['rps'] / b['rps']:>4.1f}x"
        )
        if args.baseline:
            c = figures["baseline"]
            line += f" | {c['rps']:>14.0f} {c['p50']:>7.2f} | {a['rps'] / c['rps']:>4.2f}x"
            line += f" {a['p50'] - c['p50']:>+7.3f}"
        print(line)
    if args.baseline:
        print(f"\nbaseline: {args.baseline}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
