"""Periodic tasks of apps.accounts (merged into CELERY_BEAT_SCHEDULE by the settings)."""

BEAT_SCHEDULE = {
    "rtcc-accounts-tokens-prune": {"task": "apps.accounts.tasks.tokens_prune", "schedule": 3600.0},
    "rtcc-accounts-login-attempts-prune": {"task": "apps.accounts.tasks.login_attempts_prune", "schedule": 600.0},
}
