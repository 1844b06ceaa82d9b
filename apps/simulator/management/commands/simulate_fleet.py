"""python manage.py simulate_fleet --count N: a fleet of simulated devices against a running server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.simulator import plate_readers
from apps.simulator.fleet import ApiError, Fleet

SIM_IT_USERNAME = "simulator-it"


class Command(BaseCommand):
    help = (
        "Register, enroll and connect N simulated bodycams/phones over the real API and websocket; they "
        "send status frames and obey recording commands until stopped (Ctrl-C) or --duration ends."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="how many devices")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
        parser.add_argument("--kind", choices=["bodycam", "phone", "mixed", "alpr"], default="mixed")
        parser.add_argument("--username", help="an IT account on the server (else a local one is used)")
        parser.add_argument("--password")
        parser.add_argument("--prefix", default="SIM", help="serials are PREFIX-kind-00001...; reused on re-runs")
        parser.add_argument("--interval", type=float, default=10.0, help="seconds between status frames")
        parser.add_argument("--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--lat", type=float, default=40.7128, help="where the fleet moves around")
        parser.add_argument("--lon", type=float, default=-74.0060)
        parser.add_argument("--batch", type=int, default=20, help="alpr: reads per POST")
        parser.add_argument(
            "--hot-plates",
            default="",
            help="alpr: comma-separated plates on a hotlist; about --hit-rate of the reads carry one (some misread)",
        )
        parser.add_argument("--hit-rate", type=float, default=0.02, help="alpr: share of reads of a hot plate")
        parser.add_argument(
            "--assign-to",
            default="",
            help="comma-separated officer usernames: the n-th camera and phone go to the n-th officer",
        )

    def handle(self, *args, **options):
        if options["count"] < 1:
            raise CommandError("--count must be at least 1")
        level = logging.WARNING if options["verbosity"] < 2 else logging.INFO
        logging.getLogger("rtcc.simulator").setLevel(level)
        logging.getLogger("httpx").setLevel(level)
        if not options["username"]:
            options["username"], options["password"] = self.local_it_account()
        elif not options["password"]:
            raise CommandError("--password is needed with --username")
        try:
            if options["kind"] == "alpr":
                asyncio.run(self.simulate_readers(options))
            else:
                asyncio.run(self.simulate(options))
        except (ApiError, plate_readers.ApiError, ValueError) as exc:
            raise CommandError(str(exc)) from None

    def local_it_account(self) -> tuple[str, str]:
        """An IT account in the server's database (this process shares it: same settings), with a
        fresh password each run; the fleet signs in with it over the API, like any client."""
        user, _ = get_user_model().objects.get_or_create(
            username=SIM_IT_USERNAME, defaults={"role": "it", "full_name": "Fleet simulator"}
        )
        password = secrets.token_urlsafe(24)
        user.set_password(password)
        user.save(update_fields=["password"])
        return SIM_IT_USERNAME, password

    async def simulate(self, options) -> None:
        fleet = Fleet(
            options["url"],
            count=options["count"],
            kind=options["kind"],
            username=options["username"],
            password=options["password"],
            prefix=options["prefix"],
            status_interval=options["interval"],
            center=(options["lat"], options["lon"]),
            assign_to=tuple(name for name in options["assign_to"].split(",") if name),
        )
        loop = asyncio.get_running_loop()
        async with fleet:
            await fleet.provision()
            self.stdout.write(f"enrolled {len(fleet.devices)} device(s) against {fleet.base_url}")
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(signum, fleet.request_stop)
            fleet.start()
            if await fleet.wait_connected(timeout=60):
                self.stdout.write(
                    f"all {len(fleet.devices)} device(s) connected; status every "
                    f"{options['interval']:g}s (Ctrl-C to stop)"
                )
            reporter = loop.create_task(self.report(fleet))
            try:
                await fleet.run(options["duration"])
            finally:
                reporter.cancel()
            self.stdout.write(f"stopped: {fleet.summary()}")

    async def simulate_readers(self, options) -> None:
        """Plate readers: enroll, then post batches of reads until stopped or --duration ends."""
        async with Fleet(options["url"], count=1, username=options["username"], password=options["password"]) as f:
            it_token = await f.login()
        hot = tuple(p.strip().upper() for p in options["hot_plates"].split(",") if p.strip())
        fleet = plate_readers.PlateReaderFleet(
            options["url"],
            count=options["count"],
            it_token=it_token,
            prefix=options["prefix"],
            center=(options["lat"], options["lon"]),
            interval=options["interval"],
            batch=options["batch"],
            hot_plates=hot,
            hit_rate=options["hit_rate"],
        )
        loop = asyncio.get_running_loop()
        async with fleet:
            await fleet.provision()
            self.stdout.write(
                f"enrolled {len(fleet.readers)} plate reader(s) against {fleet.base_url}; "
                f"{options['batch']} reads each every {options['interval']:g}s (Ctrl-C to stop)"
            )
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(signum, fleet.request_stop)
            await fleet.run(options["duration"])
            self.stdout.write(f"stopped: {fleet.summary()}")

    async def report(self, fleet: Fleet) -> None:
        while True:
            await asyncio.sleep(30)
            self.stdout.write(str(fleet.summary()))
