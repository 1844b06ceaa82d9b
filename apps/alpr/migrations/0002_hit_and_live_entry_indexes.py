"""Two indexes the probe at a crime center's volume asked for: the hit queue unfiltered, newest
first (a deep page sorted every hit), and a list's live entries in order with their count (each
hotlists page read every entry of every list)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alpr", "0001_initial"),
        ("briefings", "0003_briefing_notice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(
                condition=models.Q(("removed_at__isnull", True)),
                fields=["hotlist", "created_at", "id"],
                name="alpr_entry_live_list",
            ),
        ),
        migrations.AddIndex(
            model_name="hit",
            index=models.Index(fields=["-created_at", "id"], name="alpr_hit_newest"),
        ),
    ]
