from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("arena", "0003_snapshot_inputs"),
    ]

    operations = [
        migrations.AddField(
            model_name="promptset",
            name="public",
            field=models.BooleanField(
                default=False, help_text="Served in the open arena: its prompts are shown to voters before judging"
            ),
        ),
    ]
