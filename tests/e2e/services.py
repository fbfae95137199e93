"""Real services on loopback for the e2e tests: PostgreSQL, an MLflow tracking server, an SSH
server, and a generated project's scoring service. Each is started as a process and stopped by
its PID."""

import contextlib
import dataclasses
import getpass
import glob
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_ladder import ladder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _decode(content: bytes) -> dict[str, Any]:
    try:
        decoded: dict[str, Any] = json.loads(content or b"{}")
        return decoded
    except json.JSONDecodeError:
        return {"text": content.decode(errors="replace")}


def http(url: str, body: object = None, method: str | None = None) -> tuple[int, dict[str, Any]]:
    """One JSON call; returns the status and the decoded body (status 0: nothing answered)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, _decode(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, _decode(error.read())
    except (urllib.error.URLError, OSError):
        return 0, {}


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    """Wait until `url` answers 200, failing early if the process died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process behind {url} exited with {process.returncode}")
        if http(url)[0] == 200:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer 200 within {seconds:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, and its children, by its PID."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def background(
    command: list[str], cwd: Path, env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, logging to `log`; stopped on exit."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        stop(process)


def dockerfile_command(project: Path) -> list[str]:
    """The CMD of the project's Dockerfile: the command the container runs."""
    for line in (project / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            command: list[str] = json.loads(line.removeprefix("CMD "))
            return command
    raise ValueError("the Dockerfile has no CMD")


@contextlib.contextmanager
def scoring_service(
    project: Path,
    tracking_uri: str,
    token: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """The project's service, started with the container's own command in the project's venv;
    with a `token`, its write endpoints need it (SERVICE_TOKEN); `extra_env` adds settings
    (PREDICTION_LOG_URL, say)."""
    command = dockerfile_command(project)
    command[0] = str(project / ".venv" / "bin" / command[0])
    port = free_port()
    env = {
        **ladder.project_env(),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "SERVE_HOST": "127.0.0.1",
        "SERVE_PORT": str(port),
        **({"SERVICE_TOKEN": token} if token else {}),
        **(extra_env or {}),
    }
    url = f"http://127.0.0.1:{port}"
    log = project.parent / f"{project.name}-serve-{port}.log"
    with background(command, project, env, log) as process:
        wait_for(f"{url}/health", process)
        yield url


def fuzz(project: Path, url: str, token: str | None = None, examples: int = 25) -> str:
    """Schemathesis, from the project's own venv, against the running service's published
    OpenAPI document, as an outside client would: every operation, with the data the schema
    allows and the data it forbids. Fails on any 5xx; returns what it printed."""
    command = [
        str(project / ".venv" / "bin" / "schemathesis"), "run", f"{url}/openapi.json",
        "--checks", "not_a_server_error", "--max-examples", str(examples),
        "--seed", "0", "--generation-deterministic", "--workers", "1", "--no-color",
    ]  # fmt: skip
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    done = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, f"schemathesis found a server error:\n{done.stdout}{done.stderr}"
    return done.stdout


def _postgres_bin(name: str) -> str:
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    found: Sequence[str | None] = installed or [shutil.which(name)]
    if not found[-1]:
        raise FileNotFoundError(f"no PostgreSQL {name}: apt-get install postgresql")
    return found[-1]


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free loopback port; yields its SQLAlchemy URL."""
    home = Path(tempfile.mkdtemp(prefix="mlops-ladder-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(home, "postgres")
    data, port = home / "data", free_port()
    run = [*as_postgres]
    subprocess.run(
        [*run, _postgres_bin("initdb"), "-D", str(data), "-U", "mlflow", "--auth=trust"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [*run, _postgres_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"),
         "-w", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        createdb = [_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mlflow"]
        subprocess.run([*createdb, "mlflow"], check=True, capture_output=True)
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast shutdown"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.2)
        shutil.rmtree(home, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """Another database on the PostgreSQL server of `url` (from `postgres()`); its URL."""
    server, _ = url.rsplit("/", 1)
    port = server.rsplit(":", 1)[1]
    createdb = [_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", port, "-U", "mlflow", name]
    subprocess.run(createdb, check=True, capture_output=True)
    return f"{server}/{name}"


@contextlib.contextmanager
def mlflow_server(project: Path, backend_uri: str) -> Iterator[str]:
    """`mlflow server` from the project's venv (team group), one worker, serving artifacts."""
    port = free_port()
    artifacts = Path(tempfile.mkdtemp(prefix="mlops-ladder-artifacts-"))
    command = shlex.split(
        f"uv run --group team mlflow server --backend-store-uri {backend_uri} "
        f"--artifacts-destination {artifacts} --serve-artifacts "
        f"--host 127.0.0.1 --port {port} --workers 1"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        log = project.parent / f"{project.name}-mlflow.log"
        with background(command, project, ladder.project_env(), log) as p:
            wait_for(f"{url}/health", p, seconds=180)
            yield url
    finally:
        shutil.rmtree(artifacts, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class SshHost:
    """How to reach a loopback SSH server: the DEPLOY_* settings of a generated project."""

    host: str  # ssh://user@127.0.0.1:port
    key: str  # a private key that it accepts
    known_hosts: str  # its host key, as ssh-keyscan prints it


@contextlib.contextmanager
def sshd(path: Sequence[str | Path] = ()) -> Iterator[SshHost]:
    """OpenSSH's server on a free loopback port, for this user, with a throw-away host key and
    client key; commands run over it find `path` first on their PATH."""
    server = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(server).exists():
        raise FileNotFoundError("no sshd: apt-get install openssh-server")
    home, port = Path(tempfile.mkdtemp(prefix="mlops-ladder-sshd-")), free_port()
    for name in ("host_key", "client_key"):
        keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / name)]
        subprocess.run(keygen, check=True, capture_output=True)
    shutil.copy(home / "client_key.pub", home / "authorized_keys")
    session_path = ":".join([*map(str, path), "/usr/local/bin:/usr/bin:/bin"])
    (home / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1:{port}\nHostKey {home / 'host_key'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nPidFile {home / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        f"StrictModes no\nSetEnv PATH={session_path}\n"
    )
    if os.geteuid() == 0:  # root's sshd separates privileges through this folder
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    command = [server, "-D", "-e", "-f", str(home / "sshd_config")]
    try:
        with background(command, home, os.environ, home / "log") as process:
            deadline = time.monotonic() + 30
            while not _listening(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not start: {(home / 'log').read_text()}")
                time.sleep(0.1)
            host_key = " ".join((home / "host_key.pub").read_text().split()[:2])
            yield SshHost(
                host=f"ssh://{getpass.getuser()}@127.0.0.1:{port}",
                key=(home / "client_key").read_text(),
                known_hosts=f"[127.0.0.1]:{port} {host_key}",
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
