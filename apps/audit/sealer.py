"""Chains the events that found the chain head taken: one thread per process, woken after the
commit of such an event, which waits a short interval (so several go in one transaction and one
head update) and then chains every committed event still waiting, from any process.

An event is durable from its own commit on; what waits is only its place in the chain. If the
process dies first, the next seal anywhere (another append, verify_audit, a custody read)
chains it."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections, connection

from . import conf

log = logging.getLogger(__name__)

_lock = threading.Lock()
_wake = threading.Event()
_idle = threading.Event()  # no seal running or asked for in this process
_idle.set()
_owner_pid: int | None = None
_seal: Callable[[], int] | None = None


def nudge(seal: Callable[[], int]) -> None:
    """After a commit that left an event waiting: have `seal` (apps.audit.services.audit_seal_pending)
    chain it within the seal interval."""
    global _owner_pid, _seal
    _seal = seal
    if _owner_pid != os.getpid():  # first use in this process (or a forked child)
        with _lock:
            if _owner_pid != os.getpid():
                _wake.clear()
                threading.Thread(target=_run, name="audit-sealer", daemon=True).start()
                _owner_pid = os.getpid()
    with _lock:
        _idle.clear()
        _wake.set()


def wait_idle(timeout: float = 10.0) -> bool:
    """Waits until this process's sealer has chained what it was asked to (tests: before the
    database is emptied under it). False when it is still busy after `timeout` seconds."""
    return _idle.wait(timeout)


def _run() -> None:
    while True:
        _wake.wait()
        time.sleep(conf.seal_interval())
        _wake.clear()
        try:
            close_old_connections()
            if _seal is not None:
                _seal()
        except Exception:  # the database went away: retry later; the events are safe in it
            log.exception("audit: chaining waiting events failed; retrying")
            time.sleep(1)
            _wake.set()
        finally:
            # Back to the pool (or closed) between seals: an idle thread holds no connection
            # (a test run's teardown found it still open on the database it drops).
            connection.close()
            with _lock:
                if not _wake.is_set():
                    _idle.set()


@atexit.register
def _flush_on_exit() -> None:
    if _owner_pid == os.getpid() and _wake.is_set() and _seal is not None:
        try:
            _seal()
        except Exception:  # left for the next seal anywhere
            log.warning("audit: waiting events left for the next seal", exc_info=True)
