"""The Ludus domain: competitors, prompts, tournaments, matches and their append-only records.

Votes, judgments and battles are append-only: once written they are never updated or deleted
through the ORM (``save`` on an existing row and ``delete`` raise). Ratings are recomputed from
them and published as versioned :class:`LeaderboardSnapshot` rows.
"""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone


class Outcome(models.TextChoices):
    MODEL_A = "model_a", "A is better"
    MODEL_B = "model_b", "B is better"
    TIE = "tie", "Tie"
    BOTH_BAD = "tie (bothbad)", "Both are bad"


OUTCOME_VALUES = [value for value, _ in Outcome.choices]


class Source(models.TextChoices):
    HUMAN = "human", "Human votes"
    JUDGE = "judge", "LLM judges"
    IMPORT = "import", "Imported battles"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise TypeError(f"{self.model.__name__} records are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{self.model.__name__} records are append-only")


class AppendOnlyModel(models.Model):
    """A record that is written once and never changed: the audit trail behind every rating."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{type(self).__name__} records are append-only")


# --------------------------------------------------------------------------- accounts


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    """An API key; only a SHA-256 hash is stored, the raw key is shown once at creation."""

    PREFIX_LEN = 8

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=PREFIX_LEN, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, *, user: Any, name: str = "") -> tuple[ApiKey, str]:
        """Create a key for ``user``; returns the row and the raw key (never stored)."""
        raw = "ludus_" + secrets.token_urlsafe(32)
        key = cls.objects.create(
            user=user, name=name, prefix=raw[6 : 6 + cls.PREFIX_LEN], key_hash=hash_secret(raw)
        )
        return key, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --------------------------------------------------------------------------- competitors


class Competitor(models.Model):
    """A submitted model: an OpenAI-compatible endpoint or a built-in simulated competitor."""

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible endpoint"
        SIMULATED = "simulated", "Simulated competitor"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        PRIVATE = "private", "Private"

    name = models.CharField(max_length=100, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="competitors",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SIMULATED)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    # Model card.
    provider = models.CharField(max_length=100, blank=True)
    version = models.CharField(max_length=100, blank=True)
    licence = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    # OpenAI-compatible endpoint.
    endpoint_url = models.URLField(max_length=500, blank=True)
    endpoint_model = models.CharField(max_length=200, blank=True)
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding the endpoint's API key",
    )
    api_key_encrypted = models.TextField(blank=True, editable=False)
    allow_internal = models.BooleanField(
        default=False, help_text="Admin only: allow an endpoint on an internal or loopback address"
    )
    params = models.JSONField(
        default=dict, blank=True, help_text="temperature, max_tokens, timeout, ..."
    )
    max_concurrency = models.PositiveIntegerField(default=8)
    # Simulated competitor: a hidden strength drives its answers.
    sim_strength = models.FloatField(
        null=True, blank=True, help_text="Hidden Bradley-Terry strength (Elo points)"
    )
    sim_style = models.CharField(max_length=50, blank=True)
    sim_seed = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="simulated") | ~Q(endpoint_url=""),
                name="competitor_endpoint_required",
            ),
            models.CheckConstraint(
                condition=Q(max_concurrency__gte=1), name="competitor_concurrency_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Price(AppendOnlyModel):
    """An admin's price for one model's tokens, with the provider's public price beside it.

    Only staff set prices (admin or the staff API, through :func:`arena.services.prices.
    price_set`). Append-only: a new price is a new row, the latest row is the model's current
    price, and every :class:`Generation` costed from a price points at its row, so a cost can
    always be traced to the price it was computed from. Amounts are per million tokens in
    ``currency`` (the deployment's ``LUDUS_COST_CURRENCY``); the public price is a record for
    comparison, never used for cost.
    """

    competitor = models.ForeignKey(Competitor, on_delete=models.PROTECT, related_name="prices")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code, e.g. USD")
    input_per_mtok = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Price of a million prompt (input) tokens",
    )
    output_per_mtok = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Price of a million completion (output) tokens",
    )
    public_input_per_mtok = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="The provider's public input price (per million tokens), for reference",
    )
    public_output_per_mtok = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="The provider's public output price (per million tokens), for reference",
    )
    public_source_url = models.URLField(
        max_length=500, blank=True, help_text="Where the public price is published"
    )
    public_checked_on = models.DateField(
        null=True, blank=True, help_text="When the public price was read there"
    )
    note = models.CharField(max_length=300, blank=True)
    set_by = models.CharField(max_length=150, blank=True, help_text="Username of the admin")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["competitor", "-id"]
        indexes = [models.Index(fields=["competitor", "-id"], name="price_current")]
        constraints = [
            models.CheckConstraint(
                condition=Q(input_per_mtok__gte=0) & Q(output_per_mtok__gte=0),
                name="price_non_negative",
            ),
            models.CheckConstraint(
                condition=(
                    (Q(public_input_per_mtok__isnull=True) | Q(public_input_per_mtok__gte=0))
                    & (Q(public_output_per_mtok__isnull=True) | Q(public_output_per_mtok__gte=0))
                ),
                name="price_public_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.competitor_id}: {self.input_per_mtok} / {self.output_per_mtok} "
            f"{self.currency} per Mtok"
        )


# --------------------------------------------------------------------------- prompts


class PromptSet(models.Model):
    """A server-side benchmark or prompt collection; prompts are never exposed before judging.

    Only a ``public`` set is served in the open arena, where voters read its prompts before
    any judgment (see :mod:`arena.selectors.prompts`).
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=50, blank=True, default="general")
    public = models.BooleanField(
        default=False,
        help_text="Served in the open arena: its prompts are shown to voters before judging",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Prompt(models.Model):
    prompt_set = models.ForeignKey(PromptSet, on_delete=models.CASCADE, related_name="prompts")
    text = models.TextField()
    category = models.CharField(max_length=50, blank=True)
    reference_answer = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.prompt_set.name}#{self.pk}"

    @property
    def effective_category(self) -> str:
        return self.category or self.prompt_set.category or "general"


# --------------------------------------------------------------------------- tournaments


class Tournament(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField(max_length=200, unique=True)
    #: A kind registered in :mod:`arena.formats` (the registry is the one list of formats, so a
    #: new format needs no migration; forms, the API and commands validate against it).
    format = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    config = models.JSONField(default=dict, blank=True)
    judge_pipeline = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(default=0)
    prompt_sets = models.ManyToManyField(PromptSet, blank=True, related_name="tournaments")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    results = models.JSONField(
        default=dict, blank=True, help_text="Final standings, tie-breaks and E[S]"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Entry(models.Model):
    """A competitor's place in a tournament."""

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="entries")
    competitor = models.ForeignKey(Competitor, on_delete=models.PROTECT, related_name="entries")
    seed = models.PositiveIntegerField()
    initial_rating = models.FloatField(null=True, blank=True)
    eliminated_in_round = models.PositiveIntegerField(null=True, blank=True)
    withdrawn = models.BooleanField(default=False)

    class Meta:
        ordering = ["tournament", "seed"]
        constraints = [
            models.UniqueConstraint(
                fields=["tournament", "competitor"], name="entry_unique_competitor"
            ),
            models.UniqueConstraint(fields=["tournament", "seed"], name="entry_unique_seed"),
            models.CheckConstraint(condition=Q(seed__gte=1), name="entry_seed_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.tournament} #{self.seed} {self.competitor}"


class Round(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    prompt_set = models.ForeignKey(
        PromptSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tournament", "number"]
        constraints = [
            models.UniqueConstraint(fields=["tournament", "number"], name="round_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="round_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.tournament} round {self.number}"


class Bye(models.Model):
    """A competitor not paired in a round: a pairing-allocated bye, or an absence."""

    class Kind(models.TextChoices):
        PAIRING = "pairing", "Pairing-allocated bye"
        ABSENT = "absent", "Absent (not paired)"

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="byes")
    competitor = models.ForeignKey(Competitor, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PAIRING)
    points = models.FloatField(default=1.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "competitor"], name="bye_unique_competitor"),
            models.CheckConstraint(condition=Q(points__gte=0), name="bye_points_non_negative"),
        ]

    def __str__(self) -> str:
        return f"bye {self.competitor_id} in {self.round_id}"


class Match(models.Model):
    """One contest between two competitors on one prompt (in a tournament round or the arena)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        GENERATING = "generating", "Generating answers"
        JUDGING = "judging", "Judging"
        AWAITING_VOTES = "awaiting_votes", "Awaiting human votes"
        DONE = "done", "Done"
        FORFEIT = "forfeit", "Forfeit"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.DONE, Status.FORFEIT, Status.FAILED, Status.CANCELLED)

    tournament = models.ForeignKey(
        Tournament, null=True, blank=True, on_delete=models.CASCADE, related_name="matches"
    )
    round = models.ForeignKey(
        Round, null=True, blank=True, on_delete=models.CASCADE, related_name="matches"
    )
    competitor_a = models.ForeignKey(
        Competitor, on_delete=models.PROTECT, related_name="matches_as_a"
    )
    competitor_b = models.ForeignKey(
        Competitor, on_delete=models.PROTECT, related_name="matches_as_b"
    )
    prompt = models.ForeignKey(
        Prompt, null=True, blank=True, on_delete=models.PROTECT, related_name="matches"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    board = models.PositiveIntegerField(
        null=True, blank=True, help_text="Board or bracket slot within the round"
    )
    forfeit_by = models.ForeignKey(
        Competitor, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    n_votes = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Human votes recorded on this match (kept by the vote write)",
    )
    conv_metadata = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="LMArena's conv_metadata of the two answers (style counts, cl100k_base tokens), "
        "set when both answers are stored",
    )

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "matches"
        constraints = [
            models.CheckConstraint(
                condition=~Q(competitor_a=F("competitor_b")), name="match_not_self"
            ),
            models.CheckConstraint(
                condition=Q(outcome__isnull=True) | Q(outcome__in=OUTCOME_VALUES),
                name="match_valid_outcome",
            ),
            models.UniqueConstraint(
                Least("competitor_a", "competitor_b"),
                Greatest("competitor_a", "competitor_b"),
                "round",
                name="match_unique_pair_per_round",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="match_status_updated"),
            models.Index(fields=["tournament", "status"], name="match_tournament_status"),
        ]

    def __str__(self) -> str:
        return f"Match {self.pk}: {self.competitor_a_id} vs {self.competitor_b_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # n_votes is kept by the vote's own "n_votes + 1" UPDATE: a full save of an instance read
        # earlier (the admin's, say) would write a stale count back, so it writes every other field.
        if (
            not self._state.adding
            and kwargs.get("update_fields") is None
            and not kwargs.get("force_insert")
        ):
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "n_votes"
            ]
        super().save(*args, **kwargs)


class CostBasis(models.TextChoices):
    """Where an answer's cost came from."""

    ADMIN = "admin", "Admin price"
    DECLARED = "declared", "Price declared with the endpoint"
    NONE = "none", "No price (cost unknown, stored as 0)"


class Generation(models.Model):
    """One competitor's answer in a match (written once per side; a retry reuses it)."""

    class Side(models.TextChoices):
        A = "a", "A"
        B = "b", "B"

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="generations")
    side = models.CharField(max_length=1, choices=Side.choices)
    competitor = models.ForeignKey(Competitor, on_delete=models.PROTECT, related_name="generations")
    text = models.TextField()
    latency_ms = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    cost_basis = models.CharField(
        max_length=8,
        choices=CostBasis.choices,
        default=CostBasis.NONE,
        help_text="Which price the cost was computed from",
    )
    price = models.ForeignKey(
        Price,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The admin price the cost was computed from (basis 'admin')",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["match", "side"], name="generation_unique_side"),
            models.CheckConstraint(
                condition=Q(cost_basis="admin", price__isnull=False)
                | (~Q(cost_basis="admin") & Q(price__isnull=True)),
                name="generation_price_iff_admin_basis",
            ),
        ]

    def __str__(self) -> str:
        return f"match {self.match_id} side {self.side}"


class Verdict(models.TextChoices):
    A_MUCH_BETTER = "A>>B", "A much better"
    A_BETTER = "A>B", "A better"
    EQUAL = "A=B", "Equal"
    B_BETTER = "B>A", "B better"
    B_MUCH_BETTER = "B>>A", "B much better"


class Judgment(AppendOnlyModel):
    """One judge's verdict on a match, in one presentation order (the position-swap pair)."""

    match = models.ForeignKey(Match, on_delete=models.PROTECT, related_name="judgments")
    judge = models.CharField(max_length=200, help_text="Judge identity (model name or 'simulated')")
    order = models.CharField(
        max_length=2, choices=[("ab", "A first"), ("ba", "B first")], default="ab"
    )
    sample = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(
        max_length=16,
        default="primary",
        help_text="primary, review (dual), round1.. and vote (debate), calibration (drift gate); "
        "/rK marks a parse retry",
    )
    verdict = models.CharField(max_length=4, choices=Verdict.choices, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    parse_error = models.TextField(blank=True)
    run = models.ForeignKey(
        "JudgeRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="judgments",
        help_text="The re-judge run this verdict belongs to (null: the match's own judging)",
    )
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, help_text="From the judge spec's prices"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["match", "judge", "order", "sample", "stage"],
                condition=Q(run__isnull=True),
                name="judgment_unique_step",
            ),
            models.UniqueConstraint(
                fields=["run", "match", "judge", "order", "sample", "stage"],
                condition=Q(run__isnull=False),
                name="judgment_unique_run_step",
            ),
            models.CheckConstraint(
                condition=Q(outcome__isnull=True) | Q(outcome__in=OUTCOME_VALUES),
                name="judgment_valid_outcome",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="judgment_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.judge} on match {self.match_id}: {self.verdict or self.parse_error[:20]}"


class JudgeRun(models.Model):
    """A re-judging of stored matches with another judge pipeline, under a name of its own.

    Its verdicts (``Judgment.run``) and outcomes (:class:`JudgeRunOutcome`) never change the
    matches' own outcomes or the main boards; its board (``board``) is computed from its
    outcomes when every match is judged.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=100, unique=True)
    pipeline = models.JSONField(help_text="The judge pipeline (validated as a tournament's)")
    scope = models.JSONField(default=dict, help_text="How the matches were chosen")
    match_ids = models.JSONField(default=list, help_text="The stored matches it re-judges")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    calibration = models.JSONField(
        default=dict, blank=True, help_text="The drift gate's result per judge"
    )
    board = models.JSONField(default=dict, blank=True, help_text="The judge board (ratings)")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"judge run {self.name}"


class JudgeRunOutcome(AppendOnlyModel):
    """The outcome of one match in a judge run (``outcome`` null: the pipeline could not decide)."""

    run = models.ForeignKey(JudgeRun, on_delete=models.CASCADE, related_name="outcomes")
    match = models.ForeignKey(Match, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, null=True, blank=True)
    error = models.TextField(blank=True)
    cost = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, help_text="Sum of this match's judge calls"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "match"], name="judgerun_outcome_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.match_id}: {self.outcome or self.error[:20]}"


class CalibrationItem(AppendOnlyModel):
    """A frozen reference verdict on a stored match: the drift gate's calibration set."""

    set_name = models.CharField(max_length=100)
    match = models.ForeignKey(Match, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["set_name", "match"], name="calibration_unique_match"),
        ]

    def __str__(self) -> str:
        return f"{self.set_name}: match {self.match_id} -> {self.outcome}"


class JudgePin(AppendOnlyModel):
    """A pinned judge (name, model, version) and its baseline agreement on a calibration set."""

    judge = models.CharField(max_length=150)
    model = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=100)
    set_name = models.CharField(max_length=100)
    agreement = models.FloatField()
    n = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["judge", "version", "set_name"], name="judgepin_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.judge}@{self.version or '-'} on {self.set_name}: {self.agreement:.3f}"


# --------------------------------------------------------------------------- votes and battles


class BattleServe(models.Model):
    """A battle shown to one voter (an anonymous A/B pair); a vote must refer to one."""

    # Indexed by serve_unique_voter (match, voter_hash); looked up by id (the token), so the
    # random nonce that the token also carries needs no index of its own.
    match = models.ForeignKey(
        Match, on_delete=models.CASCADE, related_name="serves", db_index=False
    )
    voter_hash = models.CharField(max_length=64)
    swapped = models.BooleanField(default=False, help_text="The voter saw competitor_b on the left")
    nonce = models.CharField(max_length=32)
    served_at = models.DateTimeField(default=timezone.now)
    voted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["match", "voter_hash"], name="serve_unique_voter")
        ]

    def __str__(self) -> str:
        return f"serve {self.pk} of match {self.match_id}"


class Vote(AppendOnlyModel):
    """One human verdict on a served battle; identities are revealed only after it is cast."""

    match = models.ForeignKey(
        Match, on_delete=models.PROTECT, related_name="votes", db_index=False
    )  # vote_one_per_voter
    serve = models.OneToOneField(
        BattleServe, null=True, on_delete=models.PROTECT, related_name="vote"
    )
    voter_hash = models.CharField(max_length=64)
    ip_hash = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["match", "voter_hash"], name="vote_one_per_voter"),
            models.CheckConstraint(
                condition=Q(outcome__in=OUTCOME_VALUES), name="vote_valid_outcome"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="vote_created")]

    def __str__(self) -> str:
        return f"vote {self.pk} on match {self.match_id}: {self.outcome}"


class ImportBatch(models.Model):
    """One import of a battle file (records or pair counts)."""

    filename = models.CharField(max_length=255, blank=True)
    fmt = models.CharField(max_length=16)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    n_rows = models.PositiveIntegerField(default=0)
    n_battles = models.PositiveBigIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"import {self.pk} ({self.filename or self.fmt})"


class Battle(AppendOnlyModel):
    """A rated outcome: what the ranking library consumes.

    Written once per human vote, per finished judged match, or per imported record.
    """

    # Only the primary key, battle_source_category and the partial indexes below are kept up
    # to date by a bulk import (match and vote are NULL there): per-model reads go through
    # the pair aggregates (arena.services.aggregates.competitor_results).
    model_a = models.ForeignKey(
        Competitor, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    model_b = models.ForeignKey(
        Competitor, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    source = models.CharField(max_length=8, choices=Source.choices)
    category = models.CharField(max_length=50, default="general")
    anony = models.BooleanField(default=True)
    judge = models.CharField(max_length=200, blank=True)
    tstamp = models.DateTimeField(default=timezone.now)
    match = models.ForeignKey(
        Match,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="battles",
        db_index=False,
    )  # battle_match
    vote = models.ForeignKey(
        Vote, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )  # battle_one_per_vote
    batch = models.ForeignKey(
        ImportBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="battles",
        db_index=False,
    )
    conv_metadata = models.JSONField(
        null=True,
        blank=True,
        help_text="LMArena's conv_metadata (style counts of both answers): imported as given, "
        "computed for answers Ludus generated",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(model_a=F("model_b")), name="battle_not_self"),
            models.CheckConstraint(
                condition=Q(outcome__in=OUTCOME_VALUES), name="battle_valid_outcome"
            ),
            models.CheckConstraint(
                condition=Q(source__in=[s for s, _ in Source.choices]), name="battle_valid_source"
            ),
            models.UniqueConstraint(
                fields=["match", "source"],
                condition=Q(source="judge"),
                name="battle_one_judge_result_per_match",
            ),
            models.UniqueConstraint(
                fields=["vote"], condition=Q(vote__isnull=False), name="battle_one_per_vote"
            ),
        ]
        indexes = [
            # not kept for imported records: a bulk import maintains only the primary key
            # (half its database time); imported scopes are read by id range or in full
            models.Index(
                fields=["source", "category", "id"],
                condition=~Q(source="import"),
                name="battle_source_category",
            ),
            models.Index(fields=["match"], condition=Q(match__isnull=False), name="battle_match"),
        ]

    def __str__(self) -> str:
        return f"{self.model_a_id} vs {self.model_b_id}: {self.outcome}"


class PairCount(AppendOnlyModel):
    """Aggregated imported outcomes for a pair (the pair-counts file format)."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="pair_counts")
    model_a = models.ForeignKey(Competitor, on_delete=models.PROTECT, related_name="+")
    model_b = models.ForeignKey(Competitor, on_delete=models.PROTECT, related_name="+")
    wins_a = models.PositiveBigIntegerField()
    wins_b = models.PositiveBigIntegerField()
    ties = models.PositiveBigIntegerField()
    category = models.CharField(max_length=50, default="general")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(model_a=F("model_b")), name="paircount_not_self"),
            models.CheckConstraint(
                condition=Q(wins_a__gte=0, wins_b__gte=0, ties__gte=0),
                name="paircount_non_negative",
            ),
            models.UniqueConstraint(
                fields=["batch", "model_a", "model_b", "category"], name="paircount_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_a_id} vs {self.model_b_id}: {self.wins_a}-{self.wins_b}-{self.ties}"


class PairAggregate(models.Model):
    """The Battle outcomes of one pair in one (source, category), folded in by the rebuild.

    ``model_lo`` is the pair's smaller competitor id. Advanced from
    :class:`AggregateWatermark` (``arena.services.aggregates``), so every way a Battle row
    is written is covered without hooks. Private competitors are left out when read.
    """

    source = models.CharField(max_length=8, choices=Source.choices)
    category = models.CharField(max_length=50)
    model_lo = models.ForeignKey(
        Competitor, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    model_hi = models.ForeignKey(Competitor, on_delete=models.PROTECT, related_name="+")
    wins_lo = models.PositiveBigIntegerField(default=0)
    wins_hi = models.PositiveBigIntegerField(default=0)
    ties = models.PositiveBigIntegerField(default=0, help_text="Both kinds of tie")
    last_battle_id = models.BigIntegerField(default=0, help_text="Largest Battle id folded in")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(model_lo__lt=F("model_hi")), name="pairagg_ordered"),
            models.UniqueConstraint(
                fields=["model_lo", "model_hi", "source", "category"], name="pairagg_unique"
            ),
        ]
        indexes = [models.Index(fields=["source", "category"], name="pairagg_scope")]

    def __str__(self) -> str:
        return f"{self.source}/{self.category} {self.model_lo_id}-{self.model_hi_id}"


class AggregateWatermark(models.Model):
    """How far :class:`PairAggregate` has been advanced (one row), and which PairCount rows
    the rebuild has seen (to know which scopes an import touched)."""

    name = models.CharField(max_length=32, unique=True)
    battles_upto = models.BigIntegerField(default=0)
    pair_counts_upto = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: battles <= {self.battles_upto}"


class LeaderboardState(models.Model):
    """Per board (method, source, category): the state an online method reached and when its
    slow part (a bootstrap interval, a simulation) was last computed.

    ``ratings`` maps competitor ids (as strings) to the method's state; ``battles_upto`` and
    ``last_tstamp``/``last_id`` say which battles it has applied and the last one in the
    method's order (tstamp, id).
    """

    method = models.CharField(max_length=32)
    source = models.CharField(max_length=16)
    category = models.CharField(max_length=50)
    params = models.JSONField(default=dict)
    excluded_competitors = models.JSONField(default=list)
    battles_upto = models.BigIntegerField(default=0)
    last_tstamp = models.DateTimeField(null=True, blank=True)
    last_id = models.BigIntegerField(default=0)
    ratings = models.JSONField(default=dict)
    interval = models.JSONField(
        default=dict,
        help_text=("The slow part: bounds by competitor id, computed_at, battles_upto"),
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["method", "source", "category"], name="leaderboardstate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method}/{self.source}/{self.category} <= {self.battles_upto}"


class IdempotencyRecord(models.Model):
    """The stored response to a write carrying an ``Idempotency-Key`` (replayed on retry)."""

    scope = models.CharField(max_length=64, help_text="Who sent the key (user or voter hash)")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


# --------------------------------------------------------------------------- leaderboards


class LeaderboardSnapshot(models.Model):
    """A published leaderboard: ratings with intervals, reproducible from its data version."""

    method = models.CharField(max_length=32)
    source = models.CharField(max_length=16, default="combined")
    category = models.CharField(max_length=50, default="all")
    version = models.PositiveIntegerField()
    data_version = models.CharField(max_length=64, help_text="Fingerprint of the battles used")
    params = models.JSONField(default=dict)
    inputs = models.JSONField(
        default=dict,
        help_text="Exactly which battles were used: scope, id watermarks, excluded models and "
        "pair counts",
    )
    board = models.JSONField(
        default=dict, help_text="How the board was shown: interval method, listing rule"
    )
    ratings = models.JSONField(default=list)
    n_battles = models.PositiveBigIntegerField(default=0)
    n_models = models.PositiveIntegerField(default=0)
    compute_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "version"
        constraints = [
            models.UniqueConstraint(
                fields=["method", "source", "category", "version"], name="snapshot_unique_version"
            ),
        ]
        indexes = [
            models.Index(
                fields=["method", "source", "category", "-version"], name="snapshot_latest"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method}/{self.source}/{self.category} v{self.version}"


# --------------------------------------------------------------------------- K-wise votes


class KwiseServe(models.Model):
    """K answers to one prompt shown to one voter (K-Sort Arena); a K-wise vote must refer to
    one. ``generations`` lists the answers' Generation ids in the order shown (A, B, C, ...)."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="kwise_serves")
    voter_hash = models.CharField(max_length=64, db_index=True)
    generations = models.JSONField(help_text="Generation ids in the order shown")
    nonce = models.CharField(max_length=32)
    served_at = models.DateTimeField(default=timezone.now)
    voted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"K-wise serve {self.pk} of prompt {self.prompt_id}"


class KwiseBattle(AppendOnlyModel):
    """One K-wise result: the voter's strict ranking of K answers to one prompt.

    Written once per K-wise vote (or imported K-wise record); its :class:`KwiseEntry` rows hold
    the K competitors with the position each was shown at and its rank (1 = best, no ties).
    """

    k = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=8, choices=Source.choices)
    category = models.CharField(max_length=50, default="general")
    anony = models.BooleanField(default=True)
    tstamp = models.DateTimeField(default=timezone.now)
    prompt = models.ForeignKey(
        Prompt, null=True, blank=True, on_delete=models.PROTECT, related_name="kwise_battles"
    )
    serve = models.OneToOneField(
        KwiseServe, null=True, blank=True, on_delete=models.PROTECT, related_name="battle"
    )
    voter_hash = models.CharField(max_length=64, blank=True)
    ip_hash = models.CharField(max_length=64, blank=True)
    batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="kwise_battles"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(k__gte=3, k__lte=10), name="kwise_k_range"),
            models.CheckConstraint(
                condition=Q(source__in=[s for s, _ in Source.choices]), name="kwise_valid_source"
            ),
        ]
        indexes = [models.Index(fields=["source", "category", "id"], name="kwise_scope")]

    def __str__(self) -> str:
        return f"K-wise battle {self.pk} (K={self.k})"


class KwiseEntry(AppendOnlyModel):
    """One competitor of a K-wise battle: where it was shown and the rank it got."""

    battle = models.ForeignKey(KwiseBattle, on_delete=models.PROTECT, related_name="entries")
    competitor = models.ForeignKey(Competitor, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(help_text="0 = shown first (A)")
    rank = models.PositiveSmallIntegerField(help_text="1 = best")
    generation = models.ForeignKey(
        Generation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["battle", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["battle", "competitor"], name="kwise_entry_unique_competitor"
            ),
            models.UniqueConstraint(fields=["battle", "rank"], name="kwise_entry_unique_rank"),
            models.UniqueConstraint(
                fields=["battle", "position"], name="kwise_entry_unique_position"
            ),
            models.CheckConstraint(condition=Q(rank__gte=1), name="kwise_entry_rank_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.competitor_id} ranked {self.rank} in K-wise battle {self.battle_id}"
