"""Put the registry's champion in service: reload a running service, or start one locally;
and stop the local one. When the code changed, roll its image out to the target first."""

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

LOCAL_URL = "http://127.0.0.1:{port}"
PID_FILE = Path("serve.pid")  # written by the local service itself, for `make stop`
# What the image is built from (see the Dockerfile). README.md is copied too, but only for the
# package's metadata: a change there alone ships no new behaviour, so it builds no image.
IMAGE_INPUTS = ("src", "pyproject.toml", "uv.lock", "Dockerfile", ".dockerignore")
ROLLOUT_SECONDS = 300  # for the rollout command, then again for the new code to answer
# On the target host, in DEPLOY_DIR: pull the image tagged with the commit, replace the service.
COMPOSE_ROLLOUT = "docker compose pull scorer && docker compose up -d scorer"


def call(url: str, method: str = "GET", timeout: float = 10) -> tuple[int, dict[str, Any]]:
    """One HTTP call; returns the status and the JSON body (status 0 when nothing answers).
    A POST carries SERVICE_TOKEN, when it is set, as the bearer token that writes need."""
    if not url.startswith(("http://", "https://")):  # urlopen would also read file: URLs
        raise RuntimeError(f"{url} is not an http:// or https:// URL")
    request = urllib.request.Request(url, method=method)  # noqa: S310 (http(s), checked above)
    token = os.environ.get("SERVICE_TOKEN")
    if method == "POST" and token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (as above)
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


def settled(url: str, version: str, seconds: float, in_a_row: int = 4) -> tuple[bool, str]:
    """Wait until /model names `version` in `in_a_row` answers in a row: behind a proxy, each
    may come from another replica, and the replicas that did not get the POST /reload load the
    champion at their next registry poll (RELOAD_SECONDS). Returns whether they agreed within
    `seconds`, and the version seen last."""
    deadline, streak, seen = time.monotonic() + seconds, 0, None
    while streak < in_a_row:
        seen = call(f"{url}/model")[1].get("version")
        if seen == version:
            streak += 1
            continue
        streak = 0
        if time.monotonic() >= deadline:
            return False, str(seen)
        time.sleep(0.5)
    return True, version


def wait_healthy(url: str, seconds: float = 90) -> dict[str, Any]:
    """Wait until the service says it serves a model; returns its /health body."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, body = call(f"{url}/health", timeout=2)
        if status == 200:
            return body
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not become healthy within {seconds:.0f} s")


def rollout_command(tag: str, env: Mapping[str, str], secrets: Path) -> list[str]:
    """The command that replaces the target's service with the image `tag`: ROLLOUT_COMMAND if
    set (a shell line; $IMAGE_TAG is the tag), else docker compose on DEPLOY_HOST over ssh. The
    ssh key and the host's known key, when given, go to files in `secrets`, never on a command
    line."""
    if env.get("ROLLOUT_COMMAND"):
        return ["sh", "-c", env["ROLLOUT_COMMAND"]]
    missing = [name for name in ("DEPLOY_HOST", "DEPLOY_DIR") if not env.get(name)]
    if missing:
        raise RuntimeError(
            f"set {' and '.join(missing)} (the host that runs docker compose, over ssh, and its "
            "folder with docker-compose.yml), or ROLLOUT_COMMAND, to roll an image out"
        )
    ssh = ["ssh", "-o", "BatchMode=yes"]
    if env.get("DEPLOY_SSH_KEY"):
        key = secrets / "deploy_key"
        with os.fdopen(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(env["DEPLOY_SSH_KEY"].strip() + "\n")
        ssh += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
    if env.get("DEPLOY_KNOWN_HOSTS"):
        known = secrets / "known_hosts"
        known.write_text(env["DEPLOY_KNOWN_HOSTS"].strip() + "\n")
        ssh += ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
    remote = f"cd {shlex.quote(env['DEPLOY_DIR'])} && export IMAGE_TAG={shlex.quote(tag)} && "
    return [*ssh, env["DEPLOY_HOST"], remote + COMPOSE_ROLLOUT]


def wait_for_code(url: str, code_version: str, seconds: float = ROLLOUT_SECONDS) -> None:
    """Wait until the service at `url` is healthy, and check that it runs `code_version`. The
    rollout command has replaced the old service by then (`docker compose up -d` stops the old
    container before it returns), so the first healthy answer is the new service's."""
    served = wait_healthy(url, seconds).get("code_version")
    if served != code_version:
        raise RuntimeError(
            f"{url} runs code {served or 'of no version (no CODE_VERSION)'}, not {code_version}: "
            "the rollout did not take effect"
        )


def rollout(
    tag: str,
    url: str,
    env: Mapping[str, str],
    command_seconds: float = ROLLOUT_SECONDS,
    wait_seconds: float = ROLLOUT_SECONDS,
) -> str:
    """Replace the service at `url` with the image `tag` (see `rollout_command`), then wait until
    it answers with that code; returns a line saying what happened."""
    with tempfile.TemporaryDirectory(prefix="rollout-") as secrets:
        command = rollout_command(tag, env, Path(secrets))
        try:
            done = subprocess.run(
                command,
                env={**env, "IMAGE_TAG": tag},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=command_seconds,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"the rollout command did not finish within {command_seconds:.0f} s"
            ) from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise RuntimeError(f"the rollout command failed (exit {done.returncode}): {said}")
    wait_for_code(url, tag, wait_seconds)
    return f"rolled out code {tag} to {url}"


def deploy(
    expected_version: str,
    url: str | None = None,
    port: int = 8000,
    image_tag: str | None = None,
    env: Mapping[str, str] | None = None,
    settle: float = 60,
) -> str:
    """Make the service at `url` (default: the local one, started if needed) serve
    `expected_version`; with an `image_tag`, roll that image out to it first (configured by
    `env`, default os.environ). Replicas behind a proxy get `settle` seconds to agree. Returns
    a line saying what happened."""
    target = url or LOCAL_URL.format(port=port)
    rolled = rollout(image_tag, target, os.environ if env is None else env) if image_tag else ""
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
    agreed, seen = settled(target, expected_version, settle)
    if not agreed:
        raise RuntimeError(f"{target} serves version {seen}, not the champion {expected_version}")
    return "; ".join(filter(None, [rolled, action, f"serving champion version {expected_version}"]))


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True)


def code_changed(base: str | None, head: str = "HEAD", folder: Path = Path()) -> tuple[bool, str]:
    """Whether anything the image is built from differs between the commits `base` and `head`,
    and why. With no base to compare with (a first push, a run by hand, a base that this clone
    does not have), the answer is yes: building once too often is safe, shipping stale code not."""
    if _git(folder, "rev-parse", "--verify", "--quiet", f"{head}^0").returncode != 0:
        raise ValueError(f"{head!r} is not a commit of a git repository at {folder.resolve()}")
    if not base or not base.strip("0"):  # GitHub sends 40 zeros before a branch's first push
        return True, "no earlier commit to compare with"
    if _git(folder, "rev-parse", "--verify", "--quiet", f"{base}^0").returncode != 0:
        return True, f"the earlier commit {base} is not in this clone"
    diff = _git(folder, "diff", "--name-only", base, head, "--", *IMAGE_INPUTS)
    if diff.returncode != 0:
        raise ValueError(f"git diff {base} {head} failed: {diff.stderr.strip()}")
    changed = diff.stdout.splitlines()
    if not changed:
        return False, f"nothing the image is built from changed since {base[:12]}"
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    return True, f"changed since {base[:12]}: {', '.join(changed[:3])}{more}"
