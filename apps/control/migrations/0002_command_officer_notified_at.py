from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("control", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="command",
            name="officer_notified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
