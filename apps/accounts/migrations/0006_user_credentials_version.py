"""User.credentials_version: counted up when a person's credentials end (deactivated, a new
password), so that their console sessions and evidence links stop for good, even after a
reactivation. Everyone starts at 0, whose sessions keep Django's own hash: nobody is signed out.
The column has a database default, so the previous release's code (still serving during a rolling
upgrade, or after a rollback) can still add people."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_username_case_blind"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="credentials_version",
            field=models.PositiveIntegerField(default=0, db_default=0, editable=False),
        ),
    ]
