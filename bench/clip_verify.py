"""Clip verification read-back: rtcc's digest of a stored object against the limit measured in the
same run, min(a plain GET of the same object, raw SHA-256 of the same bytes in memory).

    .venv/bin/python bench/clip_verify.py [--mib 256] [--rounds 5] [--streams 4] [--pin]

Starts its own SeaweedFS (.venv/bin/weed, `weed mini`) on free ports in a temporary directory
and stops it at the end; nothing else is touched. Per round: raw SHA-256, then the plain GET
(one get_object, read to the end) and apps.footage.ingest.services.object_digest (what
verification runs) both ways, in an order that alternates round by round: one stream of 64 MiB
ranged GETs read straight into reused 1 MiB buffers (streams=1, the default
RTCC_CLIP_VERIFY_STREAMS) and --streams parallel ranged GETs of 8 MiB. Prints the medians, the
ratio of each to min(plain GET, SHA-256) (the goal is >= 0.8), the CPU seconds per GiB the
store and the reader spent on each (both share this machine's cores: together they bound what
any reader here can reach), and the load average (other work on the machine shows there).
`--pin` puts the store on a core of its own and the reader on the rest, as if the store ran on
its own machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MiB = 1024 * 1024
BUCKET = "rtcc-bench-verify"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="object size in MiB")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=4, help="ranged GETs at once for the parallel variant")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the store on the last core, this process on the others, as if the store ran on its own machine"
        " (the store and the reader then cannot take each other's CPU)",
    )
    args = parser.parse_args()

    from fleet_common import start_own_s3

    workdir = Path(tempfile.mkdtemp(prefix="rtcc-bench-verify-"))
    weed, s3_env = start_own_s3(workdir, BUCKET)
    if args.pin:
        pin(weed.pid)
    try:
        os.environ.update(
            {
                **s3_env,
                "RTCC_S3_BUCKET": BUCKET,
                "RTCC_DATA_DIR": str(workdir / "data"),
                "DJANGO_SETTINGS_MODULE": "rtcc.settings",
                "RTCC_EMBEDDED_BEAT": "false",
            }
        )
        os.environ.setdefault("DJANGO_SECRET_KEY", "rtcc-bench-" + "k" * 40)
        import django

        django.setup()
        run(args, workdir, weed.pid)
    finally:
        weed.stop(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)  # the object and the store's data


def pin(store_pid: int) -> None:
    """Every thread of the store on the last core; this process (and the threads it starts) on
    the others."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("--pin needs two cores")
    for task in Path(f"/proc/{store_pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), {cores[-1]})
    os.sched_setaffinity(0, set(cores[:-1]))
    print(f"[bench] the store pinned to core {cores[-1]}, this process to {cores[:-1]}", flush=True)


def run(args, workdir: Path, store_pid: int) -> None:
    import psutil

    from apps.footage.ingest.services import object_digest
    from apps.integrations.storage import S3Storage, get_storage

    storage = get_storage()
    assert isinstance(storage, S3Storage)
    size = args.mib * MiB
    data = os.urandom(size)
    key = "bench/verify.bin"
    path = workdir / "object.bin"
    path.write_bytes(data)
    with path.open("rb") as handle:
        storage.put(key, handle)
    expected = hashlib.sha256(data).hexdigest()

    def plain_get() -> float:
        t0 = time.perf_counter()
        body = storage.client.get_object(Bucket=storage.bucket, Key=key)["Body"]
        got = sum(len(chunk) for chunk in body.iter_chunks(4 * MiB))
        assert got == size
        return size / MiB / (time.perf_counter() - t0)

    def raw_sha() -> float:
        view = memoryview(data)
        t0 = time.perf_counter()
        digest = hashlib.sha256()
        for start in range(0, size, 8 * MiB):
            digest.update(view[start : start + 8 * MiB])
        assert digest.hexdigest() == expected
        return size / MiB / (time.perf_counter() - t0)

    def rtcc(streams: int) -> float:
        t0 = time.perf_counter()
        got_size, digest = object_digest(key, storage=storage, streams=streams)
        assert (got_size, digest) == (size, expected)
        return size / MiB / (time.perf_counter() - t0)

    store, me = psutil.Process(store_pid), psutil.Process()
    cpu: dict[str, list[tuple[float, float]]] = {}  # CPU seconds per GiB read: (store, this process)

    def timed(name: str, measure, *params) -> float:
        s0, m0 = sum(store.cpu_times()[:2]), sum(me.cpu_times()[:2])
        speed = measure(*params)
        per_gib = 1024 / args.mib
        cpu.setdefault(name, []).append(
            ((sum(store.cpu_times()[:2]) - s0) * per_gib, (sum(me.cpu_times()[:2]) - m0) * per_gib)
        )
        return speed

    plain, sha, one, many, ratios = [], [], [], [], []
    print(f"object {args.mib} MiB on SeaweedFS, {args.rounds} rounds (the order of the reads alternates)")
    load_before = os.getloadavg()
    for n in range(1, args.rounds + 1):
        s = raw_sha()
        if n % 2:
            p = timed("plain GET", plain_get)
            r1, rn = timed("rtcc 1 stream", rtcc, 1), timed(f"rtcc {args.streams} GETs", rtcc, args.streams)
        else:
            rn, r1 = timed(f"rtcc {args.streams} GETs", rtcc, args.streams), timed("rtcc 1 stream", rtcc, 1)
            p = timed("plain GET", plain_get)
        plain.append(p)
        sha.append(s)
        one.append(r1)
        many.append(rn)
        ratios.append((r1 / min(p, s), rn / min(p, s)))
        print(
            f"round {n}: plain GET {p:6.0f} MiB/s  SHA-256 {s:6.0f} MiB/s  rtcc verify: 1 stream {r1:6.0f} MiB/s,"
            f" {args.streams} ranged GETs {rn:6.0f} MiB/s",
            flush=True,
        )
    load_after = os.getloadavg()
    mp, ms = statistics.median(plain), statistics.median(sha)
    m1, mn = statistics.median(one), statistics.median(many)
    limit = min(mp, ms)
    print(f"plain GET (same run), median:                  {mp:.0f} MiB/s")
    print(f"raw SHA-256 (same run), median:                {ms:.0f} MiB/s")
    print(f"rtcc verification, 1 stream (default), median: {m1:.0f} MiB/s")
    print(f"rtcc verification, {args.streams} ranged GETs, median:   {mn:.0f} MiB/s")
    print(
        f"ratio rtcc / min(plain GET, SHA-256): 1 stream {m1 / limit:.2f}, {args.streams} ranged GETs {mn / limit:.2f}"
        f" (medians of per-round ratios {statistics.median(r[0] for r in ratios):.2f} and"
        f" {statistics.median(r[1] for r in ratios):.2f}; goal >= 0.8)"
    )
    print(
        "CPU seconds per GiB read, medians (store / this process): "
        + ", ".join(
            f"{name} {statistics.median(c[0] for c in runs):.2f} / {statistics.median(c[1] for c in runs):.2f}"
            for name, runs in cpu.items()
        )
    )
    store_s = statistics.median(c[0] for c in cpu["rtcc 1 stream"])
    reader_s = statistics.median(c[1] for c in cpu["rtcc 1 stream"])
    cores = os.cpu_count() or 1
    ceiling = 1024 / ((store_s + reader_s) / cores)
    if not args.pin:
        print(
            f"what the store and the hashing reader cost together, spread over all {cores} cores with none idle:"
            f" at most {ceiling:.0f} MiB/s, {ceiling / limit:.2f}x the limit;"
            f" the 1 stream reached {m1 / ceiling:.2f} of that"
        )
    print(
        "load average (1/5/15 min) before {:.2f}/{:.2f}/{:.2f}, after {:.2f}/{:.2f}/{:.2f}"
        " (other work on the machine shows here)".format(*load_before, *load_after)
    )


if __name__ == "__main__":
    main()
