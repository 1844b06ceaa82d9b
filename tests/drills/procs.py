"""Private services and rtcc processes for fault drills: each drill restarts only what it started.

Redis, PostgreSQL and SeaweedFS here run on free ports in a temporary directory, never the
shared instances: a drill stops, restarts or kills them at will. rtcc's own processes (daphne,
`celery worker`, `celery beat`) are started against them like a deployment would run them.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from infra import launch
from infra.launch import answers, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_BIN = Path(sys.executable).parent


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


class Proc:
    """One child process with its log in the drill's directory; stop() is idempotent."""

    def __init__(self, name: str, cmd: list, *, env: dict | None = None, workdir: Path, user: str | None = None):
        self.name, self.cmd, self.env, self.workdir, self.user = name, [str(c) for c in cmd], env, workdir, user
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> Proc:
        self.starts += 1
        log = open(self.log_path, "ab")
        cmd = ["runuser", "-u", self.user, "--", *self.cmd] if self.user else self.cmd
        self.process = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive:
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """kill -9 of the whole process group (a prefork worker's children too), as a crash."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def stop(self, timeout: float = 15) -> None:
        if not self.alive:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = Proc(
            "redis",
            ["redis-server", "--port", self.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            workdir=workdir,
        )

    def start(self) -> None:
        self.proc.start()
        wait_until(lambda: answers(self.port), timeout=15, what="private Redis")

    def stop(self) -> None:
        self.proc.stop()

    def restart(self, down_for: float = 2.0) -> None:
        """A broker restart: every connection cut, and (no persistence) every queued message gone."""
        self.proc.kill()
        time.sleep(down_for)
        self.start()


class PrivatePostgres:
    """A throwaway cluster (initdb) owned by the `postgres` system user when run as root."""

    def __init__(self, workdir: Path) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not binaries:
            raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.bin = Path(binaries[-1])
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.dir = Path(tempfile.mkdtemp(prefix="rtcc-drill-pg-"))
        if self.user:
            shutil.chown(self.dir, self.user)
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"  # in the cluster's directory, which its user owns
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/rtcc"

    def _run(self, *cmd) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run([*prefix, *map(str, cmd)], check=True, capture_output=True)

    def init(self) -> None:
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run(self.bin / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "rtcc")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [
                    *(["runuser", "-u", self.user, "--"] if self.user else []),
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    mode,
                    "-w",
                    "stop",
                ],
                capture_output=True,
            )

    def restart(self, down_for: float = 2.0) -> None:
        """An abrupt restart: `immediate` drops every connection without a checkpoint, like a crash."""
        self.stop("immediate")
        time.sleep(down_for)
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


S3_KEY, S3_SECRET = "rtcc-test", "rtcc-test-secret-not-for-production"


class PrivateSeaweed:
    """SeaweedFS (`weed mini`, started by infra/launch.start_seaweedfs) with its S3 gateway and
    every internal port free (launch.seaweedfs_ports): it runs beside the shared SeaweedFS and the
    test run's own, and a drill stops and starts it (the same ports, the same data) at will."""

    def __init__(self, workdir: Path, bucket: str = "rtcc-drill") -> None:
        self.workdir, self.bucket = workdir, bucket
        self.port = free_port()
        self.ports = launch.seaweedfs_ports()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = workdir / "seaweedfs"
        self.process: launch.Process | None = None
        self.starts = 0
        self.name = "seaweedfs"

    def env(self) -> dict:
        return {
            "RTCC_S3_BUCKET": self.bucket,
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def start(self) -> None:
        self.starts += 1
        self.process = launch.start_seaweedfs(
            weed=VENV_BIN / "weed",
            datadir=self.dir,
            s3_port=self.port,
            log=self.workdir / f"seaweedfs-{self.starts}.log",
            ports=self.ports,
        )
        import boto3

        client = boto3.client("s3", endpoint_url=self.url, **_s3_credentials())

        def ready() -> bool:  # the bucket (made on the first start) stores and serves an object
            try:
                client.put_object(Bucket=self.bucket, Key="drill-probe", Body=b"ok")
                return client.get_object(Bucket=self.bucket, Key="drill-probe")["Body"].read() == b"ok"
            except Exception:
                try:
                    client.create_bucket(Bucket=self.bucket)
                except Exception:
                    pass
                return False

        wait_until(ready, timeout=90, what="SeaweedFS bucket", interval=0.5)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def crash(self) -> None:
        """Gone at once (SIGKILL without waiting), so a read under way fails mid-object."""
        if self.process is not None:
            self.process.stop(timeout=0)

    def tail(self, chars: int = 2500) -> str:
        return self.process.log_tail(chars) if self.process is not None else ""


def _s3_credentials() -> dict:
    return {"aws_access_key_id": S3_KEY, "aws_secret_access_key": S3_SECRET, "region_name": "us-east-1"}


def rtcc_env(**overrides) -> dict:
    """The environment of rtcc processes in a drill: the test process's, minus its services."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "RTCC_S3_BUCKET", "AWS_ENDPOINT_URL_S3", "PYTEST_CURRENT_TEST"}
    }
    env.update({"RTCC_EMBEDDED_BEAT": "false", "PYTHONUNBUFFERED": "1", "DJANGO_DEBUG": "false"})
    env.setdefault("DJANGO_SECRET_KEY", "rtcc-drill-" + "k" * 40)
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Daphne(Proc):
    def __init__(self, env: dict, workdir: Path, name: str = "daphne") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        super().__init__(
            f"{name}-{self.port}",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", self.port, "rtcc.asgi:application"],
            env=env,
            workdir=workdir,
        )

    def start(self) -> Daphne:
        super().start()
        wait_until(self._up, timeout=60, what=f"daphne on {self.port}")
        return self

    def _up(self) -> bool:
        if not self.alive:
            raise RuntimeError(f"daphne exited: {self.tail()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def celery_worker(env: dict, workdir: Path, *, concurrency: int = 2, name: str = "worker") -> Proc:
    """A production-shaped worker (prefork), as infra/ runs it."""
    return Proc(
        name,
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "rtcc",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            concurrency,
            "--hostname",
            f"{name}-{os.getpid()}-{time.monotonic_ns()}@%h",
        ],
        env=env,
        workdir=workdir,
    )


def celery_beat(env: dict, workdir: Path) -> Proc:
    return Proc(
        "beat",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "rtcc",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            workdir / "celerybeat-schedule",
        ],
        env=env,
        workdir=workdir,
    )


def manage(env: dict, *args, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(map(str, args))} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout
