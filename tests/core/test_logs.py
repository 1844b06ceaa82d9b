"""The log stays one line per event where rtcc logged an error itself (apps/core/logs.py, the
LOGGING filter on daphne's logger in rtcc/settings)."""

import logging

from apps.core.logs import AlreadyLogged


def test_daphne_logs_no_traceback_for_an_error_rtcc_logged_already(caplog):
    # A device socket refused while Redis is down: the consumer's warning says it, once.
    daphne = logging.getLogger("daphne.server")
    with caplog.at_level(logging.WARNING):
        try:
            raise AlreadyLogged("the channel layer cannot be reached") from ConnectionError("refused")
        except AlreadyLogged as exc:
            daphne.error("Exception inside application: %s", exc, exc_info=exc)
        try:
            raise ValueError("a bug")
        except ValueError as exc:
            daphne.error("Exception inside application: %s", exc, exc_info=exc)
    logged = [(r.name, r.getMessage()) for r in caplog.records]
    assert logged == [("daphne.server", "Exception inside application: a bug")]  # a bug still shows


def test_a_host_the_site_does_not_serve_is_a_400_and_one_warning_line(client, caplog):
    # A scanner's request: Django logged it as an ERROR with the whole traceback.
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/me", HTTP_HOST="scanner.invalid")
    assert response.status_code == 400
    [record] = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "scanner.invalid" in record.getMessage()
