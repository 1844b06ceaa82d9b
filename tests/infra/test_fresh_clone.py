"""A fresh clone, in a folder with nothing beside it, runs the README's test command: it sets
itself up (virtualenv, install), starts what the tests need from the clone alone (the FCM
fake included), runs a slice of the suite in both halves and removes its temporary folder.

It takes a minute or two (a new virtualenv), so outside CI it runs when RTCC_TEST_CLONE=1."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests import services
from tests.helpers import ROOT

pytestmark = pytest.mark.once
# One services test (the push path through the FCM fake) and the fake's own tests (embedded half).
SLICE = [
    "tests/briefings/test_push.py::test_a_routine_briefing_is_normal_priority_without_image",
    "tests/infra/test_fcm_fake.py",
    "-q",
]


def test_a_fresh_clone_runs_the_readme_test_command(tmp_path):
    if not (services.IN_CI or os.environ.get("RTCC_TEST_CLONE") == "1"):
        pytest.skip("a fresh clone's setup takes a minute or two: it runs in CI, or with RTCC_TEST_CLONE=1")
    readme = (ROOT / "README.md").read_text()
    assert "python3 infra/dev.py test" in readme
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    clone = empty / "rtcc"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", head.strip()], cwd=clone, check=True)
    assert sorted(p.name for p in empty.iterdir()) == ["rtcc"]  # nothing beside it

    # No file in the repository points outside it.
    needles = ["-e", "../" + "shared", "-e", "/work/" + "shared"]
    outside = subprocess.run(["git", "grep", "-n", *needles], cwd=clone, capture_output=True, text=True)
    assert outside.stdout == "", outside.stdout

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIRTUAL_ENV"))}
    for name in services.SERVICES.values():
        for variable in name:
            env.pop(variable, None)
    env.pop("RTCC_DATA_DIR", None)
    env.update({"CI": "true", "TMPDIR": str(scratch), "PATH": os.environ.get("PATH", "")})
    done = subprocess.run(
        ["python3", "infra/dev.py", "test", "--", *SLICE],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert (clone / ".venv" / "bin" / "python").exists()  # it set itself up
    assert "running the suite: against PostgreSQL, Redis, SeaweedFS, the FCM fake" in output
    summary = re.search(r"rtcc: (\d+) passed, (\d+) failed, (\d+) skipped", output)
    assert summary and int(summary[1]) >= 10 and summary[2] == "0" and summary[3] == "0", output[-2000:]
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("rtcc-test-")]  # its temp folder is gone
