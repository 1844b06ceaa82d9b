"""Leads created before 0002 get the badge number their creator has at the upgrade: 0002 left
them "", so once IT changed the creator's badge, a second account under the old one was no longer
taken for the creator, and could verify a lead it created (the two-person rule, for the very leads
that were waiting for review during the upgrade). The badge at the upgrade is the nearest known."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def badge_of_creator(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    User = apps.get_model("accounts", "User")
    badge = User.objects.filter(pk=OuterRef("created_by_id")).values("badge_number")[:1]
    earlier = Lead.objects.filter(created_by_badge="", created_by__isnull=False).exclude(created_by__badge_number="")
    earlier.update(created_by_badge=Subquery(badge))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_mark_media_in_use"),
        ("accounts", "0007_user_role_version"),
    ]

    operations = [migrations.RunPython(badge_of_creator, migrations.RunPython.noop)]
