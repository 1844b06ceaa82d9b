"""Migrations an upgrade runs while the previous release still serves (the README's upgrade: the
migration Job, then the new pods; compose's migrate service, then web)."""

from __future__ import annotations

from django.apps import apps
from django.db import migrations
from django.db.migrations.loader import MigrationLoader

# Columns added NOT NULL without a database default before the first release anyone upgraded from
# (the previous release then knew them already).
BEFORE_ANY_RELEASE = {
    ("accounts", "user", "mfa_enabled"),
    ("accounts", "user", "totp_last_step"),
    ("accounts", "user", "totp_secret_sealed"),
    ("briefings", "briefing", "image_url"),
    ("briefings", "briefing", "notice"),
    ("footage", "clip", "purge_reason"),
    ("footage", "clip", "verify_attempts"),
    ("footage", "clip", "verify_missing_reads"),
}


def test_a_column_added_to_a_table_has_a_database_default_or_takes_null():
    """The previous release's code inserts rows without the columns it does not know: a NOT NULL
    column without a database default failed each of its inserts (briefings 0004: every briefing
    sent while the new release rolled out answered 500; live 0002: every first look at a live view)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    added = {
        (app, op.model_name, op.name)
        for (app, _), migration in loader.disk_migrations.items()
        if app in {config.label for config in apps.get_app_configs() if config.name.startswith("apps.")}
        for op in migration.operations
        if isinstance(op, migrations.AddField)
    }
    missing = []
    for app, model, name in sorted(added - BEFORE_ANY_RELEASE):
        field = apps.get_model(app, model)._meta.get_field(name)
        if field.concrete and not field.many_to_many and not field.null and not field.has_db_default():
            missing.append(f"{app}.{model}.{name}")
    assert missing == []


# Migrations that change a table and rewrite its rows in one transaction, on tables that stay small
# (people, live viewers) or where the data step writes one row.
SMALL_TABLES = {
    ("accounts", "0005_username_case_blind"),
    ("counters", "0003_exact_rows"),
    ("live", "0002_viewer_officer_told"),
}


def test_data_is_not_rewritten_in_the_transaction_that_altered_its_table():
    """A migration runs in one transaction on PostgreSQL: after an ALTER TABLE the table is locked
    against every read until it commits, so a data step beside it stalls every request that reads
    the table for as long as the step takes (briefings 0004 counted every delivery: 7 s without a
    briefing read at 2 million deliveries, until 0006 took the count apart). The data step goes in
    a migration of its own."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    ours = {config.label for config in apps.get_app_configs() if config.name.startswith("apps.")}
    mixed = sorted(
        key
        for key, migration in loader.disk_migrations.items()
        if key[0] in ours
        and not migration.initial  # its tables are new, hence empty
        and any(isinstance(op, migrations.RunPython | migrations.RunSQL) for op in migration.operations)
        and any(not isinstance(op, migrations.RunPython | migrations.RunSQL) for op in migration.operations)
    )
    assert [key for key in mixed if key not in SMALL_TABLES] == []
