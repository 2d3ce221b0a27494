from django.db import migrations, models
from django.db.models import F


def existing_chains_count_as_used(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Sessions made before the column existed have no record of which generation
    # was used: count their current one as used, so a late predecessor stays reuse.
    AuthSession = apps.get_model("sessions_core", "AuthSession")
    AuthSession.objects.update(refresh_generation_in_use=F("refresh_generation"))


class Migration(migrations.Migration):

    dependencies = [
        ("sessions_core", "0002_refresh_chain_seed"),
    ]

    operations = [
        migrations.AddField(
            model_name="authsession",
            name="refresh_generation_in_use",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(existing_chains_count_as_used, migrations.RunPython.noop),
    ]
