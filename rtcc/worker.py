"""The worker's consumer (CELERY_WORKER_CONSUMER): Celery's, made to survive a broker restart.

Celery 5.7.0's consumer, after losing the broker, first collects the connection (which drops
the transport's client) and then closes it; closing a Redis channel restores the unacknowledged
messages, which needs that client: kombu raises `AttributeError: 'NoneType' object has no
attribute 'hostname'`, which is no connection error, so the consumer treats it as
unrecoverable and the worker stops for good (issue 13 item 10; reproduced by the Redis restart
drill in tests/drills). Here that close cannot fail: the error is logged and the consumer
reconnects as it does for any connection error. The messages it could not restore are not lost:
the database is the record of what is owed (the sweeps of notices, pushes and verifications
send again what no worker finished), and Redis restores them after the visibility timeout.
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer as CeleryConsumer

log = logging.getLogger(__name__)


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc):
        connection = self.connection
        if connection is not None:
            close = connection.close

            def close_quietly(*args, **kwargs):
                try:
                    return close(*args, **kwargs)
                except AttributeError:
                    log.warning("broker connection lost: the collected connection could not be closed cleanly")

            connection.close = close_quietly  # type: ignore[method-assign]
        return super().on_connection_error_after_connected(exc)
