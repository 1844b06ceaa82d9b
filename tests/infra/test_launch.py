"""infra/launch.py, what the test runner, the demo and the benches start their processes with."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from infra import launch


def test_a_stopped_process_still_tells_how_its_log_ends(tmp_path):
    """A service that failed to get ready is stopped and then named with its log's end."""
    says = [sys.executable, "-c", "print('bucket name must be longer')"]
    process = launch.Process("talker", says, log=tmp_path / "talker.log")
    process.process.wait(timeout=30)
    process.stop()
    assert "bucket name must be longer" in process.log_tail()


def test_a_child_stops_when_its_starter_is_killed(tmp_path):
    """`kill -9` of the demo (or of a test run) must not leave its server holding the port."""
    pid_file = tmp_path / "child.pid"
    starter = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(launch.ROOT)!r})\n"
        "from infra import launch\n"
        "child = launch.Process('sleeper', [sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", starter])
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _running(child)
        parent.kill()  # SIGKILL: no cleanup of its own runs
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child)
    finally:
        parent.kill()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that died but was not reaped yet (its parent is gone: init reaps it) is not running.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_process_started_from_another_thread_outlives_that_thread(tmp_path):
    """The drills restart the store from their fault thread: the store must not stop with it."""
    started: list[launch.Process] = []
    thread = threading.Thread(
        target=lambda: started.append(launch.Process("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"]))
    )
    thread.start()
    thread.join()
    try:
        time.sleep(1)  # a death signal would have come at the thread's end
        assert _running(started[0].pid)
    finally:
        started[0].stop()
