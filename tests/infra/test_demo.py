"""The demo as a newcomer runs it (`python3 infra/dev.py demo`): it refuses a port that is taken,
and on a free port it tells the whole briefing story end to end: simulated phones assigned to
the demo officers register for pushes, an operator's briefing lands in the outbox, and the
officer's phone page shows it in Chromium."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import services
from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import ROOT, free_port

pytestmark = pytest.mark.once
DEV = ROOT / "infra" / "dev.py"
PASSWORD = "demo-check-password"
# The demo runs on the embedded default, whatever the test run is pointed at.
SERVICE_VARS = {
    "DATABASE_URL",
    "REDIS_URL",
    "RTCC_S3_BUCKET",
    "AWS_ENDPOINT_URL_S3",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "RTCC_FCM_ENDPOINT",
}


def demo_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env["RTCC_DATA_DIR"] = str(data_dir)
    return env


def test_the_demo_refuses_a_port_that_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(DEV), "demo", "--port", str(port), "--fleet", "0"],
            env=demo_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "--port" in lines[0], done.stderr
    assert not (tmp_path / "db.sqlite3").exists()  # it stopped before doing anything


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    log = open(tmp_path / "demo.log", "w+")
    process = subprocess.Popen(
        [sys.executable, str(DEV), "demo", "--port", str(port), "--fleet", "4", "--password", PASSWORD],
        env=demo_env(tmp_path / "data"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # the first run installs the demo's packages
        while "simulated devices connecting" not in (tmp_path / "demo.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the demo did not start:\n" + (tmp_path / "demo.log").read_text()[-3000:])
            time.sleep(0.5)
        yield base, tmp_path / "demo.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    assert process.returncode == 0  # Ctrl-C / SIGTERM is a clean stop


def login(base: str, username: str) -> httpx.Client:
    token = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
    token.raise_for_status()
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token.json()['token']}"}, timeout=10)


def test_a_briefing_reaches_the_demo_officers_phone_page(demo):
    from playwright.sync_api import expect, sync_playwright

    base, log = demo
    text = log.read_text()
    assert re.search(r"role\s+username\s+password", text), "the login table has a header naming its columns"
    assert re.search(rf"officer\s+officer\s+{PASSWORD}", text)

    # A second demo on another port would share this one's database (new passwords, devices
    # enrolled again): it stops at once, saying so, and this demo's logins still work.
    second = subprocess.run(
        [sys.executable, str(DEV), "demo", "--port", str(free_port()), "--fleet", "0", "--password", "other-pass"],
        env=demo_env(log.parent / "data"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode != 0
    assert len(second.stderr.strip().splitlines()) == 1 and "another demo" in second.stderr, second.stderr

    operator, officer = login(base, "operator"), login(base, "officer")
    officer_id = officer.get("/api/v1/me").json()["id"]
    audience = {"audience": {"officers": [officer_id]}}
    deadline = time.monotonic() + 60
    while (preview := operator.post("/api/v1/briefings/preview", json=audience).json()).get("phones", 0) < 1:
        assert time.monotonic() < deadline, f"no simulated phone was assigned to the demo officer: {preview}"
        time.sleep(0.5)

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not found: install Chromium (apt-get install chromium) or set RTCC_CHROMIUM"
        if services.IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=base)
        page.goto("/login/?next=/phone/")
        page.fill("input[name=username]", "officer")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/phone/")

        briefing = operator.post(
            "/api/v1/briefings", json={"priority": "urgent", "title": "Demo: red sedan KXT4821", **audience}
        )
        assert briefing.status_code == 201, briefing.text
        body = briefing.json()
        assert body["phones"] >= 1 and body["deliveries"]["failed"] == 0, body

        # The push sits in the outbox (what FCM would have delivered to the simulated phone) ...
        expect(page.locator("#outbox")).to_contain_text("Demo: red sedan KXT4821", timeout=20_000)
        # ... and the briefing is on the officer's page, ready to acknowledge.
        card = page.locator("[data-briefing]").first
        expect(card).to_contain_text("Demo: red sedan KXT4821", timeout=20_000)
        browser.close()
    outbox = officer.get("/api/v1/me/outbox").json()["results"]
    assert [row["token"].startswith("sim-DEMO-phone-") for row in outbox] == [True]
