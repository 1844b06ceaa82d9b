"""Clip upload: rtcc's protocol against plain presigned part URLs, on SeaweedFS, in one run.

For each clip size (default 256 MiB of random bytes, written to a temporary file while
streaming, never held in memory; `--sizes 1024` for the 1 GiB of issue 17):
  baseline  boto3 create_multipart_upload + presigned upload_part URLs, 4 parallel PUTs,
            list_parts, complete_multipart_upload
  rtcc      POST /clips, POST /clips/{id}/parts, the same 4 parallel PUTs, POST .../complete,
            then GET .../upload until a real `celery -A rtcc worker` has verified it
Both PUT with the same client code (apps/simulator/client.put_parts); the order of the two
alternates round by round, so drift on a busy machine falls on both. Prints per round and as
medians over the rounds: the baseline, rtcc through `complete` (ratio goal >= 0.95) and through
`verified`, what each of rtcc's own round trips cost (declare, parts request, complete, one
status poll; timed inside the rtcc upload, and the status poll once more on its own after it),
the peak RSS growth of the server processes (daphne + the worker; goal < 50 MiB), the
verification speed beside raw hashlib SHA-256, and the load average (the machine may be shared:
other work shows there).

Starts every service it needs that is its own: SeaweedFS (`weed mini` from .venv, every port a
free one, data in a temporary directory), daphne and the Celery worker (infra/launch.py); stops
them at the end. PostgreSQL and Redis are the machine's: the bench works in its own database
(created and migrated when missing) and its own Redis database number. Run:
    .venv/bin/python bench/clip_upload.py [--sizes 256,1024] [--rounds 5] [--disk] [--baseline-read-back]
What made rtcc's 1 GiB rounds slower (issue 17): verification read each clip back as one GET,
SeaweedFS buffered ~600 MiB of it ahead of the hasher, and the next upload into the store then ran
~40% slower while the store gave that memory back and faulted it in again (perf: clear_page in the
weed process). Verification now asks for 64 MiB windows, at most two at a time (S3Storage.iter_whole).
`--baseline-read-back` has the store read the baseline's object back too (untimed, in the same windows),
so that every upload follows a read-back, whichever goes first.
Environment (defaults): BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/rtcc_bench_footage
  BENCH_REDIS_URL=redis://127.0.0.1:6379/3
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
from fleet_common import s3_client, start_own_s3  # noqa: E402

from apps.simulator.client import ClipUploader, put_parts, write_random_file  # noqa: E402
from infra import launch  # noqa: E402
from infra.dev import S3_KEY, S3_SECRET  # noqa: E402

MiB = 1024 * 1024
PARALLEL = 4
PART_SIZE = 8 * MiB  # what rtcc hands out for clips up to 78 GiB; the baseline uses the same
WINDOW = 64 * MiB  # apps.integrations.storage.WHOLE_WINDOW: how verification reads a clip back

S3_ENV = {  # the endpoint is the bench's own SeaweedFS, set once it runs (start_s3)
    "AWS_ENDPOINT_URL_S3": "",
    "AWS_ACCESS_KEY_ID": S3_KEY,
    "AWS_SECRET_ACCESS_KEY": S3_SECRET,
    "AWS_DEFAULT_REGION": "us-east-1",
}
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rtcc_bench_footage")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
BUCKET = "rtcc-bench-footage"


free_port = launch.free_port


def wait_port(port: int, timeout: float = 60) -> None:
    if not launch.wait_answers(port, timeout=timeout):
        raise SystemExit(f"nothing answered on port {port}")


def ensure_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def start_s3(workdir: Path) -> launch.Process:
    weed, env = start_own_s3(workdir, BUCKET)
    S3_ENV.update(env)
    return weed


class TimedUploader(ClipUploader):
    """The device client, with each of rtcc's own round trips timed (summed per upload)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.spent: dict[str, float] = {}

    def _timed(self, name: str, call, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - t0

    def declare(self, **kwargs):
        self.spent = {}
        return self._timed("declare", super().declare, **kwargs)

    def part_urls(self, clip_id, numbers):
        return self._timed("parts", super().part_urls, clip_id, numbers)

    def complete(self, clip_id):
        return self._timed("complete", super().complete, clip_id)

    def status(self, clip_id):
        self.spent["polls"] = self.spent.get("polls", 0) + 1
        return self._timed("status", super().status, clip_id)


class Servers:
    """daphne and a Celery worker (solo pool: the process that verifies is the one measured)."""

    def __init__(self, workdir: Path, *, disk: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **S3_ENV,
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "RTCC_S3_BUCKET": "" if disk else BUCKET,
            "DJANGO_SECRET_KEY": "bench-" + "k" * 40,
            "RTCC_DATA_DIR": str(workdir / "data"),
            "RTCC_EMBEDDED_BEAT": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        self.workdir = workdir
        self.processes: list[launch.Process] = []

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def device_token(self) -> str:
        script = (
            "from apps.devices.services import device_register, device_enroll\n"
            "import uuid\n"
            "d, code = device_register(kind='bodycam', serial='BENCH-' + uuid.uuid4().hex[:10])\n"
            "d, token = device_enroll(serial=d.serial, code=code)\n"
            "print(token)\n"
        )
        return self.manage("shell", "-c", script).strip().splitlines()[-1]

    def start(self) -> None:
        self.daphne = launch.start_daphne(env=self.env, log=self.workdir / "daphne.log", port=self.port)
        self.processes.append(self.daphne)
        self.worker = launch.start_celery_worker(
            env=self.env,
            log=self.workdir / "worker.log",
            pool="solo",
            concurrency=1,
            name=f"bench-{uuid.uuid4().hex[:6]}@%h",
            settle=2,  # the worker connects to Redis
        )
        self.processes.append(self.worker)

    def stop(self) -> None:
        for process in self.processes:
            process.stop(timeout=15)


class RssSampler:
    """Samples the RSS of each server process every 20 ms; peak growth over the start value."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.start = {name: p.memory_info().rss for name, p in self.procs.items()}
        self.peak = dict(self.start)
        self.peak_total = sum(self.start.values())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for name, proc in self.procs.items():
                rss = proc.memory_info().rss
                self.peak[name] = max(self.peak[name], rss)
                total += rss
            self.peak_total = max(self.peak_total, total)
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def growth(self) -> dict[str, float]:
        out = {name: (self.peak[name] - self.start[name]) / MiB for name in self.procs}
        out["total"] = (self.peak_total - sum(self.start.values())) / MiB
        return out


def baseline_upload(s3, http: httpx.Client, path: Path, size: int, *, read_back: bool = False) -> float:
    """Plain presigned part URLs made with boto3; the same PUT code as rtcc's client. read_back:
    the object is then read back in full, untimed, as rtcc's verification reads each rtcc clip."""
    key = f"bench/baseline/{uuid.uuid4()}"
    t0 = time.perf_counter()
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ContentType="video/mp4")["UploadId"]
    count = -(-size // PART_SIZE)
    parts = [
        {
            "number": n,
            "method": "PUT",
            "headers": {},
            "url": s3.generate_presigned_url(
                "upload_part",
                Params={"Bucket": BUCKET, "Key": key, "UploadId": upload_id, "PartNumber": n},
                ExpiresIn=900,
            ),
        }
        for n in range(1, count + 1)
    ]
    put_parts(http, parts, path, part_size=PART_SIZE, size=size, parallel=PARALLEL)
    listed = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id, MaxParts=1000)["Parts"]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]},
    )
    elapsed = time.perf_counter() - t0
    if read_back:  # in rtcc verification's windows of 64 MiB
        for start in range(0, size, WINDOW):
            window = f"bytes={start}-{min(start + WINDOW, size) - 1}"
            body = s3.get_object(Bucket=BUCKET, Key=key, Range=window)["Body"]
            while body.read(PART_SIZE):
                pass
    s3.delete_object(Bucket=BUCKET, Key=key)
    return elapsed


def verification_seconds(clip_id: str) -> float:
    with psycopg.connect(DATABASE_URL) as conn:
        row = conn.execute("SELECT completed_at, verified_at FROM footage_clip WHERE id = %s", (clip_id,)).fetchone()
    if row is None:
        raise SystemExit(f"clip {clip_id} is not in the database")
    completed, verified = row
    return (verified - completed).total_seconds()


def rtcc_upload(uploader: TimedUploader, path: Path, sha256: str) -> dict:
    end = datetime.now(UTC) - timedelta(seconds=5)
    result = uploader.upload(
        path, recording_id=f"bench-{uuid.uuid4()}", started_at=end - timedelta(minutes=10), ended_at=end, sha256=sha256
    )
    if result.state != "available":
        raise SystemExit(f"clip {result.clip_id} ended {result.state}")
    spent = dict(uploader.spent)
    t0 = time.perf_counter()
    uploader.status(result.clip_id)  # one status poll on its own, the clip at rest
    return {
        "clip_id": result.clip_id,
        "upload": result.timings["upload"],
        "verified": result.timings["verified"],
        "verify": verification_seconds(result.clip_id),
        "declare": spent.get("declare", 0.0),
        "parts": spent.get("parts", 0.0),
        "complete": spent.get("complete", 0.0),
        "polls": int(spent.get("polls", 0)),
        "status": time.perf_counter() - t0,
    }


def measure_size(
    s3, http, uploader, pids, path: Path, size: int, sha256: str, rounds: int, *, read_back: bool = False
) -> dict:
    """Rounds of baseline and rtcc, alternating which goes first (drift on a busy machine cancels)."""
    base_times, runs, growths, ratios = [], [], [], []
    for index in range(rounds):
        order = ("baseline", "rtcc") if index % 2 == 0 else ("rtcc", "baseline")
        load = os.getloadavg()[0]
        for which in order:
            if which == "baseline":
                base_times.append(baseline_upload(s3, http, path, size, read_back=read_back))
            else:
                with RssSampler(pids) as sampler:
                    runs.append(rtcc_upload(uploader, path, sha256))
                growths.append(sampler.growth())
        run = runs[-1]
        ratios.append((base_times[-1] / run["upload"], base_times[-1] / run["verified"]))
        print(
            f"[bench] {size // MiB} MiB round {index + 1} (load {load:.1f}): baseline {base_times[-1]:.2f}s,"
            f" rtcc through complete {run['upload']:.2f}s ({ratios[-1][0]:.3f}x), verified {run['verified']:.2f}s"
            f" (verification {run['verify']:.2f}s); round trips: declare {run['declare'] * 1000:.0f} ms,"
            f" parts {run['parts'] * 1000:.0f} ms, complete {run['complete'] * 1000:.0f} ms,"
            f" status {run['status'] * 1000:.0f} ms x {run['polls']} polls; RSS growth "
            + ", ".join(f"{k} {v:.1f} MiB" for k, v in growths[-1].items()),
            flush=True,
        )
    mib = size / MiB
    median = statistics.median
    return {
        "mib": mib,
        "base": mib / median(base_times),
        "up": mib / median(r["upload"] for r in runs),
        "e2e": mib / median(r["verified"] for r in runs),
        "verify": mib / median(r["verify"] for r in runs),
        "paired_up": median(r[0] for r in ratios),
        "paired_e2e": median(r[1] for r in ratios),
        "base_s": median(base_times),
        "up_s": median(r["upload"] for r in runs),
        "spread": (min(r[0] for r in ratios), max(r[0] for r in ratios)),
        "trips": {k: median(r[k] for r in runs) for k in ("declare", "parts", "complete", "status")},
        "peak": {k: max(g[k] for g in growths) for k in growths[0]},
    }


def disk_run(workdir: Path, sizes: list[int]) -> list[dict]:
    """The disk backend: the part bytes pass through daphne (spooled to a file, streamed to disk)."""
    servers = Servers(workdir / "disk", disk=True)
    (workdir / "disk").mkdir()
    token = servers.device_token()
    servers.start()
    pids = {"daphne": servers.daphne.pid, "worker": servers.worker.pid}
    uploader = TimedUploader(servers.url, token, parallel=PARALLEL)
    uploader.poll_max = 0.05
    rows = []
    try:
        warm = workdir / "warm-disk.bin"
        rtcc_upload(uploader, warm, write_random_file(warm, 20 * MiB))
        warm.unlink()
        for size in sizes:
            path = workdir / f"disk-{size // MiB}.bin"
            sha256 = write_random_file(path, size)
            with RssSampler(pids) as sampler:
                run = rtcc_upload(uploader, path, sha256)
            path.unlink()
            mib = size / MiB
            rows.append(
                {"mib": mib, "up": mib / run["upload"], "verify": mib / run["verify"], "peak": sampler.growth()}
            )
            print(
                f"[bench] disk {size // MiB} MiB: upload {run['upload']:.2f}s, verification {run['verify']:.2f}s, "
                f"RSS growth {rows[-1]['peak']}",
                flush=True,
            )
    finally:
        uploader.close()
        servers.stop()
    return rows


def raw_sha256_speed(total: int = 1024 * MiB) -> float:
    block = os.urandom(8 * MiB)
    digest = hashlib.sha256()
    t0 = time.perf_counter()
    for _ in range(total // len(block)):
        digest.update(block)
    return total / MiB / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256", help="clip sizes in MiB, comma-separated (1024: issue 17's size)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per size (medians reported)")
    parser.add_argument("--disk", action="store_true", help="also run the disk backend (bytes through daphne)")
    parser.add_argument(
        "--baseline-read-back",
        action="store_true",
        help="read each baseline object back in full after its upload (untimed), as rtcc's verification"
        " reads each rtcc clip: the store does the same work between any two uploads, whichever goes first",
    )
    args = parser.parse_args()
    sizes = [int(s) * MiB for s in args.sizes.split(",")]

    ensure_database()
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-bench-clip-"))
    weed = start_s3(workdir)
    s3 = s3_client(S3_ENV)
    rows = []
    load_before = os.getloadavg()
    try:
        servers = Servers(workdir)
        print(f"[bench] SeaweedFS on {S3_ENV['AWS_ENDPOINT_URL_S3']}; migrating {DATABASE_URL}", flush=True)
        servers.manage("migrate", "--verbosity", "0")
        token = servers.device_token()
        servers.start()
        pids = {"daphne": servers.daphne.pid, "worker": servers.worker.pid}
        http = httpx.Client(timeout=300, limits=httpx.Limits(max_connections=2 * PARALLEL))
        uploader = TimedUploader(servers.url, token, parallel=PARALLEL, http=http)
        uploader.poll_max = 0.05
        try:
            sha_speed = raw_sha256_speed()
            # Warm-up: imports, connection pools, the first task, outside the measurements.
            warm = workdir / "warm.bin"
            warm_sha = write_random_file(warm, 20 * MiB)
            baseline_upload(s3, http, warm, 20 * MiB)
            rtcc_upload(uploader, warm, warm_sha)
            warm.unlink()
            for size in sizes:
                path = workdir / f"clip-{size // MiB}.bin"
                print(f"[bench] writing {size // MiB} MiB of random bytes", flush=True)
                sha256 = write_random_file(path, size)
                rows.append(
                    measure_size(
                        s3, http, uploader, pids, path, size, sha256, args.rounds, read_back=args.baseline_read_back
                    )
                )
                path.unlink()
        finally:
            uploader.close()
            servers.stop()
        disk_rows = disk_run(workdir, sizes) if args.disk else []
    finally:
        weed.stop(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)  # the clips and the store's data: GiBs
    load_after = os.getloadavg()

    print()
    read_back_note = "; each baseline object read back, untimed" if args.baseline_read_back else ""
    print(
        f"clip upload against the bench's own SeaweedFS ({PARALLEL} parallel PUTs, {PART_SIZE // MiB} MiB parts,"
        f" medians of {args.rounds} rounds{read_back_note});"
        f" raw hashlib SHA-256 on this machine: {sha_speed:.0f} MiB/s"
    )
    print(
        f"{'size':>8} {'baseline':>10} {'rtcc up':>10} {'ratio':>6} {'rtcc+verify':>12} {'ratio':>6} "
        f"{'verify':>10} {'RSS growth daphne/worker/total':>32}"
    )
    for r in rows:
        peak = r["peak"]
        print(
            f"{r['mib']:>6.0f}Mi {r['base']:>7.0f}MiB/s {r['up']:>7.0f}MiB/s {r['up'] / r['base']:>6.3f} "
            f"{r['e2e']:>9.0f}MiB/s {r['e2e'] / r['base']:>6.3f} {r['verify']:>7.0f}MiB/s "
            f"{peak['daphne']:>9.1f} / {peak['worker']:>5.1f} / {peak['total']:>5.1f} MiB"
        )
    for r in rows:
        trips = r["trips"]
        extra = trips["declare"] + trips["parts"] + trips["complete"]
        print(
            f"{r['mib']:>6.0f}Mi median of per-round ratios: through complete {r['paired_up']:.3f}"
            f" (rounds {r['spread'][0]:.3f} to {r['spread'][1]:.3f}), through verified {r['paired_e2e']:.3f}"
        )
        print(
            f"{r['mib']:>6.0f}Mi rtcc's own round trips, medians: declare {trips['declare'] * 1000:.0f} ms,"
            f" parts request {trips['parts'] * 1000:.0f} ms, complete {trips['complete'] * 1000:.0f} ms,"
            f" status poll {trips['status'] * 1000:.1f} ms; declare+parts+complete"
            f" {extra * 1000:.0f} ms = {extra / r['up_s'] * 100:.1f}% of the rtcc upload"
            f" (median {r['up_s']:.2f}s; baseline {r['base_s']:.2f}s)"
        )
    for r in disk_rows:
        peak = r["peak"]
        print(
            f"{r['mib']:>6.0f}Mi disk backend (bytes through daphne): upload {r['up']:.0f} MiB/s, verification "
            f"{r['verify']:.0f} MiB/s, RSS growth daphne {peak['daphne']:.1f} / worker {peak['worker']:.1f} / "
            f"total {peak['total']:.1f} MiB"
        )
    print("ratio = rtcc throughput / baseline throughput (goal >= 0.95 for upload through complete); RSS goal < 50 MiB")
    print(
        "load average (1/5/15 min) before {:.2f}/{:.2f}/{:.2f}, after {:.2f}/{:.2f}/{:.2f}"
        " (other work on the machine shows here)".format(*load_before, *load_after)
    )


if __name__ == "__main__":
    main()
