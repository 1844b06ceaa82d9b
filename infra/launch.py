"""One way to start rtcc's processes: daphne, Celery worker and beat, the FCM fake, SeaweedFS.

Used by the tests (a live server, a worker), the benchmarks and infra/dev.py. Standard library
only, and it imports nothing of rtcc: dev.py runs it before the virtualenv exists.

    with start_daphne(env=env, log=workdir / "daphne.log") as web:
        httpx.get(f"{web.url}/healthz")

Each launcher starts the process in its own session (so stopping it stops what it started too),
waits until it answers (its port, or a moment for a worker), and fails with the end of its log
when it exits early. `stop()` (or leaving the `with`) ends it: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
FCM_FAKE = ROOT / "infra" / "fakes" / "fcm_server.py"
S3_IDENTITY = ROOT / "infra" / "ci" / "s3-identity.json"


def _die_with_parent() -> Callable[[], None] | None:
    """For Popen's preexec_fn: the child is sent SIGTERM when the process that started it dies,
    however it died (Linux's PR_SET_PDEATHSIG). A `kill -9` of the demo left its web server,
    worker and store running, holding the port the next demo wanted. None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not in the forked child
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_death_signal() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return set_death_signal


_DEATH_SIGNAL = _die_with_parent()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_answers(port: int, *, timeout: float, host: str = "127.0.0.1") -> bool:
    """Until something answers on the port (True), or `timeout` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while not answers(port, host):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


class Process:
    """A started child process, its log, and the port it serves (if any)."""

    def __init__(
        self,
        name: str,
        cmd: list[Any],
        *,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        log: Path | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.name = name
        self.port = port
        self.host = host
        self.log_path = log
        self._log: IO[bytes] | None = open(log, "wb") if log else None  # closed in stop()
        self.process = subprocess.Popen(
            [str(part) for part in cmd],
            cwd=cwd,
            env=env if env is not None else dict(os.environ),
            stdout=self._log,  # None: this terminal's, as the demo's server
            stderr=subprocess.STDOUT if self._log else None,
            start_new_session=True,
            # PR_SET_PDEATHSIG follows the THREAD that forked: a process started from another
            # thread (a drill restarting the store from its fault thread) would get SIGTERM as
            # soon as that thread ends, so only the main thread's children get it.
            preexec_fn=_DEATH_SIGNAL if threading.current_thread() is threading.main_thread() else None,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, size: int = 3000) -> str:
        """The end of the process's log, running or stopped."""
        if self._log and not self._log.closed:
            self._log.flush()
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-size:]
        return "(no log)"

    def _failed(self, what: str) -> RuntimeError:
        return RuntimeError(f"{self.name} {what}; its log ends with:\n{self.log_tail()}")

    def wait_port(self, timeout: float = 60) -> Process:
        """Until the port answers; the process exiting first is a failure."""
        assert self.port is not None
        probe = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                self.close_log()
                raise self._failed(f"exited with code {self.process.returncode} before serving port {self.port}")
            if answers(self.port, probe):
                return self
            time.sleep(0.1)
        self.stop()
        raise self._failed(f"did not answer on port {self.port} within {timeout:.0f}s")

    def settle(self, seconds: float) -> Process:
        """For a process with no port (a worker): still running after a moment."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.alive():
                self.close_log()
                raise self._failed(f"exited with code {self.process.returncode} while starting")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        self.close_log()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)  # its own session: the group is what it started
        except ProcessLookupError:
            pass

    def close_log(self) -> None:
        if self._log and not self._log.closed:
            self._log.close()

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_daphne(
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
    app: str = "rtcc.asgi:application",
    python: str | Path = sys.executable,
    timeout: float = 60,
    args: tuple[str, ...] = (),
) -> Process:
    """`daphne rtcc.asgi:application` (HTTP, static files, both websockets), answering on its port;
    `args` are more daphne options (`--verbosity 2`, say)."""
    port = port or free_port()
    cmd = [python, "-m", "daphne", "-b", host, "-p", port, *args, app]
    return Process("daphne", cmd, env=env, log=log, port=port, host=host).wait_port(timeout)


def start_celery_worker(
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    pool: str = "threads",
    concurrency: int = 4,
    loglevel: str = "WARNING",
    name: str | None = None,
    python: str | Path = sys.executable,
    settle: float = 0,
) -> Process:
    """`celery -A rtcc worker`, without gossip, mingle and heartbeats (quick to start and stop)."""
    cmd: list[Any] = [python, "-m", "celery", "-A", "rtcc", "worker", "--pool", pool, "--concurrency", concurrency]
    cmd += ["--loglevel", loglevel, "--without-heartbeat", "--without-gossip", "--without-mingle"]
    if name:
        cmd += ["-n", name]
    process = Process("celery worker", cmd, env=env, log=log)
    return process.settle(settle) if settle else process


def start_celery_beat(
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    schedule: Path | None = None,
    python: str | Path = sys.executable,
) -> Process:
    """`celery -A rtcc beat` (exactly one per deployment)."""
    cmd: list[Any] = [python, "-m", "celery", "-A", "rtcc", "beat", "--loglevel", "WARNING"]
    if schedule:
        cmd += ["--schedule", schedule]
    return Process("celery beat", cmd, env=env, log=log)


def start_fcm_fake(
    *,
    workdir: Path,
    port: int | None = None,
    log: Path | None = None,
    python: str | Path = sys.executable,
    env: dict[str, str] | None = None,
) -> tuple[Process, dict[str, str]]:
    """The project's FCM fake (infra/fakes/fcm_server.py) and the settings that point rtcc at it:
    a service account written to `workdir` and the endpoint."""
    port = port or free_port()
    credentials = workdir / "fcm-service-account.json"
    with open(credentials, "w") as out:
        subprocess.run([str(python), str(FCM_FAKE), "credentials", "--port", str(port)], stdout=out, check=True)
    process = Process("the FCM fake", [python, FCM_FAKE, "--port", port], env=env, log=log, port=port)
    process.wait_port(30)
    return process, {"RTCC_FCM_ENDPOINT": process.url, "GOOGLE_APPLICATION_CREDENTIALS": str(credentials)}


def seaweedfs_ports() -> dict[str, int]:
    """Free ports for every other port `weed mini` binds (master, volume, filer and admin server,
    each with its gRPC port at port + 10000, where some SeaweedFS parts dial it whatever the flags
    say; the S3 gRPC port), the Iceberg and Lance catalogs turned off (0): start_seaweedfs(ports=...)
    then runs beside another SeaweedFS on the defaults (9333, 8080, 8888, ...) or on any other
    fixed ports. The same ports again restart the same instance."""
    ports: dict[str, int] = {}
    taken: set[int] = set()
    for name in ("master.port", "volume.port", "filer.port", "admin.port"):
        while True:
            port = free_port()
            if port + 10000 <= 65535 and not {port, port + 10000} & taken and not answers(port + 10000):
                break
        ports[name], ports[f"{name}.grpc"] = port, port + 10000
        taken |= {port, port + 10000}
    while (port := free_port()) in taken:
        pass
    return {**ports, "s3.port.grpc": port, "s3.port.iceberg": 0, "s3.port.lance": 0}


def start_seaweedfs(
    *,
    weed: str | Path,
    datadir: Path,
    s3_port: int,
    log: Path | None = None,
    s3_config: Path = S3_IDENTITY,
    timeout: float = 90,
    ports: dict[str, int] | None = None,
) -> Process:
    """SeaweedFS (`weed mini`) as the S3 server on 127.0.0.1:s3_port, its data in `datadir`;
    `ports` (seaweedfs_ports()) moves its other ports off their defaults."""
    datadir.mkdir(parents=True, exist_ok=True)
    cmd = [
        weed,
        "mini",
        f"-dir={datadir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        f"-s3.port={s3_port}",
        f"-s3.config={s3_config}",
        *(f"-{flag}={port}" for flag, port in (ports or {}).items()),
    ]
    return Process("SeaweedFS", cmd, cwd=datadir, log=log, port=s3_port).wait_port(timeout)
