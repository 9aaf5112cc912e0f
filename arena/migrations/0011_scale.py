"""Pair-aggregate roll-ups: every source's all-categories rows, every category's all-sources
rows and the all/all rows (``source``/``category`` ``""``), summed once from the stored ones;
the rebuild's fold keeps them up to date from then on (``arena.services.aggregates``)."""

from django.db import migrations

SUMS = "SUM(wins_lo), SUM(wins_hi), SUM(ties), MAX(last_battle_id)"
COLUMNS = "source, category, model_lo_id, model_hi_id, wins_lo, wins_hi, ties, last_battle_id"
FINE = "source <> '' AND category <> ''"

ROLLUPS = [
    f"INSERT INTO arena_pairaggregate ({COLUMNS}) "
    f"SELECT {keys}, model_lo_id, model_hi_id, {SUMS} FROM arena_pairaggregate "
    f"WHERE {FINE} GROUP BY {group}model_lo_id, model_hi_id"
    for keys, group in (
        ("source, ''", "source, "),
        ("'', category", "category, "),
        ("'', ''", ""),
    )
]


class Migration(migrations.Migration):
    dependencies = [
        ("arena", "0010_judges"),
    ]

    operations = [
        migrations.RunSQL(
            ROLLUPS,
            reverse_sql=["DELETE FROM arena_pairaggregate WHERE source = '' OR category = ''"],
        ),
    ]
