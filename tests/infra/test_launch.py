"""infra/launch.py, what the test runner, the demo and the benches start their processes with."""

from __future__ import annotations

import sys

from infra import launch


def test_a_stopped_process_still_tells_how_its_log_ends(tmp_path):
    """A service that failed to get ready is stopped and then named with its log's end."""
    says = [sys.executable, "-c", "print('bucket name must be longer')"]
    process = launch.Process("talker", says, log=tmp_path / "talker.log")
    process.process.wait(timeout=30)
    process.stop()
    assert "bucket name must be longer" in process.log_tail()
