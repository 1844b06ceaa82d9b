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


def _of_a_lost_connection(message) -> bool:
    """The message came over a broker connection that has since been collected (kombu drops the
    transport's client): acking or rejecting it can only fail."""
    transport = getattr(message.channel, "connection", None)
    return transport is None or getattr(transport, "client", None) is None


def _guard_acks() -> None:
    """A task received before a broker restart and finished after it is acked over the old,
    collected connection: kombu raises the same AttributeError (`conninfo.hostname`) from the
    worker's event loop, and the worker stops for good. Such an ack is logged and dropped: the
    message was restored to the queue (or is, after the visibility timeout) and its task, which
    is idempotent, runs again."""
    from kombu.message import Message

    if getattr(Message, "_rtcc_guarded", False):
        return
    ack_log_error, reject_log_error = Message.ack_log_error, Message.reject_log_error

    def ack_quietly(self, logger, errors, multiple=False):
        try:
            return ack_log_error(self, logger, errors, multiple=multiple)
        except AttributeError:
            if not _of_a_lost_connection(self):
                raise
            log.warning("a task finished after the broker connection was lost: its ack is dropped (it runs again)")

    def reject_quietly(self, logger, errors, requeue=False):
        try:
            return reject_log_error(self, logger, errors, requeue=requeue)
        except AttributeError:
            if not _of_a_lost_connection(self):
                raise
            log.warning("a message of a lost broker connection could not be rejected; it is restored anyway")

    Message.ack_log_error = ack_quietly  # type: ignore[method-assign]
    Message.reject_log_error = reject_quietly  # type: ignore[method-assign]
    Message._rtcc_guarded = True  # type: ignore[attr-defined]


class Consumer(CeleryConsumer):
    def __init__(self, *args, **kwargs):
        _guard_acks()
        super().__init__(*args, **kwargs)

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
