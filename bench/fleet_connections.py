"""How many device websockets ONE daphne process holds, and its memory per connection.

Goal (issue #3): at least 5,000 devices per process at no more than 40 KiB each.

    # production shape: PostgreSQL + Redis (channel layer and live presence)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rtcc_bench_devices REDIS_URL=redis://127.0.0.1:6379/1 \
        .venv/bin/python bench/fleet_connections.py --count 5000
    # embedded default (SQLite, in-process layer): no variables
    .venv/bin/python bench/fleet_connections.py --count 5000

Devices are inserted into the database (see fleet_common), one daphne process is started, a
warm-up batch connects (so code paths and caches are loaded), then the rest connect as firmware
does (Bearer header, no Origin) and each sends one status frame (spread over ten seconds, one
status interval, as a fleet's frames are). Memory per connection is the
daphne process's RSS growth (psutil) divided by the connections added after the warm-up. The
server's own view is checked: the API must list every device online.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from fleet_common import (
    Server,
    api_get_all,
    connect_all,
    it_token,
    provision,
    raise_open_files,
    ratio,
    setup_django,
)

GOAL_CONNECTIONS = 5000
GOAL_KIB = 40.0


async def measure(tokens: list[str], token: str, warmup: int, concurrency: int) -> None:
    count = len(tokens)
    server = Server()
    sockets: list = []
    try:
        started = time.monotonic()
        sockets += await connect_all(server.url, tokens[:warmup], concurrency=concurrency)
        await asyncio.sleep(1.0)
        base_rss = server.rss()
        print(f"warm-up: {warmup} connected, daphne RSS {base_rss / 2**20:.1f} MiB")

        def progress(n: int) -> None:
            print(f"  {warmup + n} connected, RSS {server.rss() / 2**20:.1f} MiB", flush=True)

        sockets += await connect_all(server.url, tokens[warmup:], concurrency=concurrency, progress=progress)
        opened = sum(1 for ws in sockets if ws is not None)
        connect_seconds = time.monotonic() - started
        await asyncio.sleep(2.0)
        idle_rss = server.rss()
        # every device reports, spread over one status interval as a fleet does (not all in one instant)
        spread = 10.0 / max(1, len(sockets))
        for n, ws in enumerate(sockets):
            if ws is not None:
                await ws.send(
                    json.dumps(
                        {"type": "status", "recording": False, "battery_pct": 50 + n % 50, "storage_free_mb": 1000 + n}
                    )
                )
                await asyncio.sleep(spread)
        await asyncio.sleep(10.0)  # frames absorbed, presence written through, console events sent
        final_rss = server.rss()
        rows = await api_get_all(server.url, token, "/api/v1/devices")
        online = sum(1 for row in rows if row["serial"].startswith("BENCH-") and row["online"])
        still_open = sum(1 for ws in sockets if ws is not None and ws.close_code is None)

        added = max(1, opened - warmup)
        idle_kib = (idle_rss - base_rss) / added / 1024
        per_conn_kib = (final_rss - base_rss) / added / 1024
        print(
            f"connected {opened}/{count} in {connect_seconds:.1f}s; still open {still_open}; API lists {online} online"
        )
        print(
            f"daphne RSS: {base_rss / 2**20:.1f} MiB after warm-up -> {idle_rss / 2**20:.1f} MiB with {opened} "
            f"sockets connected ({idle_kib:.1f} KiB each) -> {final_rss / 2**20:.1f} MiB once each reported status"
        )
        held = min(still_open, online)
        print(
            f"RESULT connections held by one process: {held} -> {ratio(held, GOAL_CONNECTIONS)} "
            f"(goal >= {GOAL_CONNECTIONS})"
        )
        print(
            f"RESULT memory per connection (each device connected and reporting status): {per_conn_kib:.1f} KiB -> "
            f"{ratio(per_conn_kib, GOAL_KIB, lower_is_better=True)} (goal <= {GOAL_KIB:.0f} KiB; "
            f"{idle_kib:.1f} KiB before the first status frames)"
        )
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets if ws is not None), return_exceptions=True)
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=25, help="handshakes in flight at once")
    args = parser.parse_args()
    limit = raise_open_files()
    print(f"setup: {setup_django()}; open files limit {limit}")
    tokens = [token for _, token in provision(args.count)]
    asyncio.run(measure(tokens, it_token(), min(args.warmup, args.count // 2), args.concurrency))


if __name__ == "__main__":
    main()
