"""The vote's hot path on PostgreSQL: two server-side prepared statements.

:func:`arena.services.votes.vote_record` reads the served battle and writes the vote through
one of two twins with the same signatures and the same effects: the ORM functions in
:mod:`arena.services.votes` (four statements, parsed and planned by PostgreSQL on every vote,
since Django binds parameters on the client) or these two, prepared once per connection:

1. :func:`serve_for_vote`: the served battle, locked, joined with everything the vote needs;
2. :func:`write_vote`: the Vote, its human Battle, the serve's ``voted_at`` and the match's
   vote count in one data-modifying statement.

They run inside the caller's transaction, so a 201 still means committed. Which twin runs is
decided in one place, :func:`arena.services.votes.vote_sql_fast` (the setting
``LUDUS_VOTES_FAST_SQL``, PostgreSQL only); ``tests/arena/test_votes_fast.py`` runs the same
vote sequences through both and compares the stored rows and the responses.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import transaction
from psycopg.types.json import Jsonb

from arena.models import Battle, BattleServe, Competitor, Match, Prompt, PromptSet, Source, Vote

_TABLES = {
    "serve": BattleServe._meta.db_table,
    "match": Match._meta.db_table,
    "competitor": Competitor._meta.db_table,
    "prompt": Prompt._meta.db_table,
    "prompt_set": PromptSet._meta.db_table,
    "vote": Vote._meta.db_table,
    "battle": Battle._meta.db_table,
}

_SERVE_SQL = """
SELECT s.voter_hash, s.voted_at, s.swapped, s.match_id, m.competitor_a_id, m.competitor_b_id,
       ca.name, cb.name, p.category, ps.category, m.conv_metadata::text
FROM {serve} s
JOIN {match} m ON m.id = s.match_id
JOIN {competitor} ca ON ca.id = m.competitor_a_id
JOIN {competitor} cb ON cb.id = m.competitor_b_id
LEFT JOIN {prompt} p ON p.id = m.prompt_id
LEFT JOIN {prompt_set} ps ON ps.id = p.prompt_set_id
WHERE s.id = %s AND s.nonce = %s
FOR UPDATE OF s
""".format(**_TABLES)  # noqa: S608 - table names from the models, values bound

_WRITE_SQL = """
WITH v AS (
    INSERT INTO {vote} (match_id, serve_id, voter_hash, ip_hash, outcome, created_at)
    VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
), b AS (
    INSERT INTO {battle}
        (model_a_id, model_b_id, outcome, source, category, anony, judge, tstamp, match_id,
         vote_id, conv_metadata)
    SELECT %s, %s, %s, %s, %s, TRUE, '', %s, %s, v.id, %s FROM v RETURNING id
), s AS (
    UPDATE {serve} SET voted_at = %s WHERE id = %s RETURNING id
), m AS (
    UPDATE {match} SET n_votes = n_votes + 1 WHERE id = %s RETURNING id
)
SELECT v.id, b.id FROM v, b, s, m
""".format(**_TABLES)  # noqa: S608 - table names from the models, values bound


def _execute_prepared(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run as a prepared statement on the current Django connection.

    Database errors come out as Django's (``IntegrityError`` ...).
    """
    import psycopg

    connection = transaction.get_connection()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        cur.execute(sql, params, prepare=True)
        return cur.fetchall()


def serve_for_vote(*, serve_id: int, nonce: str) -> tuple[Any, ...] | None:
    """The serve row (locked) with its match's competitors and categories, or ``None``.

    The twin of :func:`arena.services.votes.serve_for_vote_orm`.
    """
    rows = _execute_prepared(_SERVE_SQL, [serve_id, nonce])
    if not rows:
        return None
    *row, meta = rows[0]  # jsonb as text: decoded here, as the ORM's JSONField does
    return (*row, None if meta is None else json.loads(meta))


def write_vote(
    *,
    serve_id: int,
    match_id: int,
    a_id: int,
    b_id: int,
    voter_hash: str,
    ip_hash: str,
    outcome: str,
    category: str,
    now: datetime,
    conv_metadata: dict[str, Any] | None = None,
) -> tuple[Vote, Battle]:
    """Write the Vote, its human Battle, the serve's ``voted_at`` and the match's vote count.

    The twin of :func:`arena.services.votes.write_vote_orm`; runs inside the caller's
    transaction.
    """
    outcome = str(outcome)  # a TextChoices member would be sent as its name
    ((vote_id, battle_id),) = _execute_prepared(
        _WRITE_SQL,
        [
            *(match_id, serve_id, voter_hash, ip_hash, outcome, now),
            *(a_id, b_id, outcome, Source.HUMAN.value, category, now, match_id),
            None if conv_metadata is None else Jsonb(conv_metadata),
            *(now, serve_id),
            match_id,
        ],
    )
    vote = Vote(
        pk=vote_id,
        match_id=match_id,
        serve_id=serve_id,
        voter_hash=voter_hash,
        ip_hash=ip_hash,
        outcome=outcome,
        created_at=now,
    )
    battle = Battle(
        pk=battle_id,
        model_a_id=a_id,
        model_b_id=b_id,
        outcome=outcome,
        source=Source.HUMAN,
        category=category,
        anony=True,
        tstamp=now,
        match_id=match_id,
        vote=vote,
        conv_metadata=conv_metadata,
    )
    for obj in (vote, battle):
        obj._state.adding = False
        obj._state.db = transaction.get_connection().alias
    return vote, battle
