"""Put the registry's champion in service: reload a running service, or start one locally;
and stop the local one."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

LOCAL_URL = "http://127.0.0.1:{port}"
PID_FILE = Path("serve.pid")  # written by the local service itself, for `make stop`


def call(url: str, method: str = "GET", timeout: float = 10) -> tuple[int, dict]:
    """One HTTP call; returns the status and the JSON body (status 0 when nothing answers).
    A POST carries SERVICE_TOKEN, when it is set, as the bearer token that writes need."""
    request = urllib.request.Request(url, method=method)
    token = os.environ.get("SERVICE_TOKEN")
    if method == "POST" and token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except (urllib.error.URLError, OSError):
        return 0, {}


def start_local(port: int, log_path: Path = Path("serve.log")) -> int:
    """Start `python -m <package> serve` in the background; returns its PID."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", __package__, "serve", "--port", str(port),
             "--pid-file", str(PID_FILE)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )  # fmt: skip
    return process.pid


@contextlib.contextmanager
def recorded_pid(pid_file: Path | None) -> Iterator[None]:
    """Write this process's PID to `pid_file` (if any) while it serves, so `stop` finds it."""
    if pid_file is None:
        yield
        return
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:  # a SIGTERM or SIGKILL ends the process without this: `stop` removes the file then
        if pid_file.exists() and pid_file.read_text().strip() == str(os.getpid()):
            pid_file.unlink()


def _serving(pid: int) -> bool:
    """Whether `pid` is a live service of ours (the PID may have gone to another process)."""
    shown = subprocess.run(
        ["ps", "-ww", "-o", "stat=,command=", "-p", str(pid)], capture_output=True, text=True
    ).stdout.strip()
    state, _, command = shown.partition(" ")
    return bool(shown) and not state.startswith("Z") and " serve" in command


def stop_local(pid_file: Path = PID_FILE, seconds: float = 30) -> str:
    """Stop the local service that `make deploy` or `make serve` started (it wrote `pid_file`);
    returns a line saying what happened."""
    if not pid_file.exists():
        return f"no local service to stop (no {pid_file})"
    text = pid_file.read_text().strip()
    pid = int(text) if text.isdigit() else 0
    if pid <= 1 or not _serving(pid):
        pid_file.unlink()
        return f"no local service to stop: PID {text or '?'} in {pid_file} is gone; removed it"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)  # as Ctrl+C: uvicorn answers the requests in flight, exits
    deadline = time.monotonic() + seconds
    while _serving(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    done = f"stopped the local service (PID {pid})"
    if _serving(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        done = f"killed the local service (PID {pid}): it did not stop within {seconds:.0f} s"
    pid_file.unlink(missing_ok=True)
    return done


def wait_healthy(url: str, seconds: float = 90) -> dict:
    """Wait until the service says it serves a model; returns its /health body."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, body = call(f"{url}/health", timeout=2)
        if status == 200:
            return body
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not become healthy within {seconds:.0f} s")


def deploy(expected_version: str, url: str | None = None, port: int = 8000) -> str:
    """Make the service at `url` (default: the local one, started if needed) serve
    `expected_version`; returns a line saying what happened."""
    target = url or LOCAL_URL.format(port=port)
    status, _ = call(f"{target}/health", timeout=2)
    if status == 0:
        if url:
            raise RuntimeError(f"no service answers at {url}")
        pid = start_local(port)
        wait_healthy(target)
        action = f"started the local service (PID {pid}, log serve.log)"
    else:
        _, served = call(f"{target}/model")
        if served.get("name", __package__) != __package__:
            raise RuntimeError(
                f"{target} serves {served['name']!r}, not {__package__!r}: another project's "
                "service holds the port; stop it, or choose another one with --port or --url"
            )
        status, body = call(f"{target}/reload", method="POST", timeout=120)
        if status in (401, 403):
            raise RuntimeError(
                f"{target}/reload answered {status}: {body.get('detail')}; "
                "set SERVICE_TOKEN to the service's token"
            )
        if status != 200:
            raise RuntimeError(f"{target}/reload answered {status}: {body}")
        action = f"reloaded {target}: version {body['previous_version']} -> {body['version']}"
    _, served = call(f"{target}/model")
    if served.get("version") != expected_version:
        raise RuntimeError(
            f"{target} serves version {served.get('version')}, not the champion {expected_version}"
        )
    return f"{action}; serving champion version {expected_version}"
