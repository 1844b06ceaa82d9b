"""Static files under content-hashed names, built by the web process itself whenever they change.

The console's pages name each file by a hash of its content (`fleet.3f2a9c1b7d4e.js`), so a
browser may keep it for a year and still never runs yesterday's script after an upgrade.
There is no separate step at start: the first process that finds the sources changed collects
them into STATIC_ROOT under a lock, and WhiteNoise serves them from there. With DEBUG on, pages
name the source files themselves and WhiteNoise reads them from the source folders as they change.
"""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.management import call_command

STAMP = ".rtcc-sources"


class HashedStaticStorage(ManifestStaticFilesStorage):
    # `import ... from "./ui.js"` inside a module is rewritten to the hashed name too.
    support_js_module_import_aggregation = True


def sources_digest() -> str:
    """A digest of every static source file's name, size and modification time (no reading)."""
    digest = hashlib.sha256()
    seen: set[str] = set()
    for finder in finders.get_finders():
        for path, storage in finder.list([]):
            if path in seen:  # the first finder's copy wins, as in collectstatic
                continue
            seen.add(path)
            stat = Path(storage.path(path)).stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def ensure_static_files() -> None:
    """Collects the static files (hashed, with their manifest) unless STATIC_ROOT is current."""
    root = Path(settings.STATIC_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    if settings.DEBUG:
        return
    stamp = root / STAMP
    wanted = sources_digest()
    if _current(root, stamp, wanted):
        return
    with open(root / ".lock", "w") as lock:  # processes starting together build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _current(root, stamp, wanted):
            return
        call_command("collectstatic", interactive=False, verbosity=0)
        stamp.write_text(wanted)


def _current(root: Path, stamp: Path, wanted: str) -> bool:
    return (root / "staticfiles.json").exists() and stamp.exists() and stamp.read_text() == wanted
