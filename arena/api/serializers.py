"""Small input and output serializers, one pair per operation where they differ."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arena.formats import format_choices
from arena.models import ApiKey, Competitor, JudgeRun, Match, Outcome, Tournament
from arena.services.battles_io import EXPORT_FORMATS, IMPORT_FORMATS
from arena.services.kwise import KWISE_SIZES
from arena.services.votes import VOTE_CHOICES

# --------------------------------------------------------------------------- errors (schema only)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(  # type: ignore[assignment]  # a field named like an attribute
        child=serializers.ListField(child=serializers.CharField())
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --------------------------------------------------------------------------- accounts


class UserSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text="May be empty.")

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_staff", "date_joined"]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(
        required=False, allow_blank=True, write_only=True, max_length=128
    )
    is_staff = serializers.BooleanField(required=False, default=False)


class ApiKeySerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "is_active"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class ApiKeyIssuedSerializer(ApiKeySerializer):
    key = serializers.CharField(
        read_only=True, help_text="The raw key; shown only in this response."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class UserWithKeySerializer(serializers.Serializer):
    user = UserSerializer()
    api_key = ApiKeyIssuedSerializer()


# --------------------------------------------------------------------------- competitors


class CompetitorInputSerializer(serializers.Serializer):
    """What an owner may send; admin-only fields are refused by the service for others."""

    name = serializers.RegexField(r"^[\w.:/@+\- ]+$", max_length=100)
    kind = serializers.ChoiceField(choices=Competitor.Kind.choices, default=Competitor.Kind.OPENAI)
    visibility = serializers.ChoiceField(choices=Competitor.Visibility.choices, required=False)
    provider = serializers.CharField(max_length=100, required=False, allow_blank=True)
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    licence = serializers.CharField(max_length=100, required=False, allow_blank=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    endpoint_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    endpoint_model = serializers.CharField(max_length=200, required=False, allow_blank=True)
    api_key = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="The endpoint's API key; stored encrypted, never returned.",
    )
    params = serializers.DictField(
        required=False,
        help_text="temperature (0-2), top_p (0-1), max_tokens (1-32768), timeout (1-600 s), ...",
    )
    max_concurrency = serializers.IntegerField(required=False, min_value=1, max_value=64)
    allow_internal = serializers.BooleanField(required=False, help_text="Admin only.")
    api_key_env = serializers.RegexField(
        r"^[A-Z][A-Z0-9_]*$",
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Admin only.",
    )
    sim_strength = serializers.FloatField(required=False, allow_null=True, help_text="Admin only.")
    sim_style = serializers.CharField(
        max_length=50, required=False, allow_blank=True, help_text="Admin only."
    )
    sim_seed = serializers.IntegerField(
        required=False, min_value=0, max_value=2**62, help_text="Admin only."
    )


class CompetitorUpdateSerializer(CompetitorInputSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False


class CompetitorPrivateSerializer(serializers.Serializer):
    endpoint_url = serializers.CharField()
    endpoint_model = serializers.CharField()
    params = serializers.DictField()
    max_concurrency = serializers.IntegerField()
    has_api_key = serializers.BooleanField()


class CompetitorAdminSerializer(serializers.Serializer):
    allow_internal = serializers.BooleanField()
    api_key_env = serializers.CharField()
    sim_strength = serializers.FloatField(allow_null=True)
    sim_style = serializers.CharField()
    sim_seed = serializers.IntegerField()


class CompetitorSerializer(serializers.ModelSerializer):
    """A model card; ``private`` is shown to the owner and admins, ``admin`` to admins only."""

    owner = serializers.SerializerMethodField()
    private = serializers.SerializerMethodField()
    admin = serializers.SerializerMethodField()

    class Meta:
        model = Competitor
        fields = [
            "id",
            "name",
            "kind",
            "status",
            "visibility",
            "owner",
            "provider",
            "version",
            "licence",
            "description",
            "created_at",
            "updated_at",
            "private",
            "admin",
        ]
        read_only_fields = fields

    def _viewer(self) -> Any:
        request = self.context.get("request")
        return getattr(request, "user", None)

    def get_owner(self, obj: Competitor) -> str | None:
        return obj.owner.username if obj.owner_id and obj.owner else None

    @extend_schema_field(CompetitorPrivateSerializer(allow_null=True))
    def get_private(self, obj: Competitor) -> dict[str, Any] | None:
        user = self._viewer()
        if not (user and user.is_authenticated and (user.is_staff or obj.owner_id == user.pk)):
            return None
        return {
            "endpoint_url": obj.endpoint_url,
            "endpoint_model": obj.endpoint_model,
            "params": obj.params,
            "max_concurrency": obj.max_concurrency,
            "has_api_key": bool(obj.api_key_encrypted or obj.api_key_env),
        }

    @extend_schema_field(CompetitorAdminSerializer(allow_null=True))
    def get_admin(self, obj: Competitor) -> dict[str, Any] | None:
        user = self._viewer()
        if not (user and user.is_authenticated and user.is_staff):
            return None
        return {
            "allow_internal": obj.allow_internal,
            "api_key_env": obj.api_key_env,
            "sim_strength": obj.sim_strength,
            "sim_style": obj.sim_style,
            "sim_seed": obj.sim_seed,
        }


class RatingPointSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    rating = serializers.FloatField(allow_null=True)
    lower = serializers.FloatField(allow_null=True)
    upper = serializers.FloatField(allow_null=True)
    rank = serializers.IntegerField(allow_null=True)


class BySourceSerializer(serializers.Serializer):
    human = serializers.IntegerField()
    judge = serializers.IntegerField()
    # "import" is a keyword; declared below.


BySourceSerializer._declared_fields["import"] = serializers.IntegerField()


class CompetitorStatsSerializer(serializers.Serializer):
    competitor_id = serializers.IntegerField()
    name = serializers.CharField()
    battles = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    ties = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)
    by_source = BySourceSerializer()
    method = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # field named like Field.source
    rating_history = RatingPointSerializer(many=True)


class UsageFigureSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    lower = serializers.FloatField(allow_null=True, help_text="Null: too few answers to bound.")
    upper = serializers.FloatField(allow_null=True, help_text="Null: too few answers to bound.")
    coverage = serializers.FloatField(
        allow_null=True,
        help_text="Exact coverage of a quantile's order-statistic interval (null for a mean).",
    )


class UsageMethodsSerializer(serializers.Serializer):
    latency = serializers.CharField()
    tokens = serializers.CharField()
    cost = serializers.CharField()


_AMOUNT_HELP = "Per million tokens, in the deployment's currency (LUDUS_COST_CURRENCY)."


class PriceInputSerializer(serializers.Serializer):
    input_per_mtok = serializers.DecimalField(
        max_digits=14, decimal_places=6, min_value=Decimal(0), help_text=_AMOUNT_HELP
    )
    output_per_mtok = serializers.DecimalField(
        max_digits=14, decimal_places=6, min_value=Decimal(0), help_text=_AMOUNT_HELP
    )
    currency = serializers.CharField(
        max_length=3,
        required=False,
        help_text="ISO 4217 code; must be the deployment's currency (the default).",
    )
    public_input_per_mtok = serializers.DecimalField(
        max_digits=14,
        decimal_places=6,
        min_value=Decimal(0),
        required=False,
        allow_null=True,
        help_text="The provider's public input price, for reference (never used for cost).",
    )
    public_output_per_mtok = serializers.DecimalField(
        max_digits=14,
        decimal_places=6,
        min_value=Decimal(0),
        required=False,
        allow_null=True,
        help_text="The provider's public output price, for reference (never used for cost).",
    )
    public_source_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, help_text="Where it is published."
    )
    public_checked_on = serializers.DateField(
        required=False, allow_null=True, help_text="When it was read there."
    )
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class PriceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.CharField()
    input_per_mtok = serializers.CharField(help_text="Exact decimal; per million tokens.")
    output_per_mtok = serializers.CharField(help_text="Exact decimal; per million tokens.")
    public_input_per_mtok = serializers.CharField(allow_null=True)
    public_output_per_mtok = serializers.CharField(allow_null=True)
    public_source_url = serializers.CharField()
    public_checked_on = serializers.DateField(allow_null=True)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class CompetitorPricesSerializer(serializers.Serializer):
    competitor_id = serializers.IntegerField()
    current = PriceSerializer(allow_null=True, help_text="Null: no admin price.")
    history = PriceSerializer(many=True, help_text="Every admin price, newest first.")


class CostBasisSerializer(serializers.Serializer):
    admin = serializers.IntegerField(help_text="Answers costed from an admin price.")
    declared = serializers.IntegerField(
        help_text="Answers costed from the price declared with the endpoint (no admin price)."
    )
    none = serializers.IntegerField(help_text="Answers without a price (left out of the cost).")


class CompetitorUsageSerializer(serializers.Serializer):
    competitor_id = serializers.IntegerField()
    name = serializers.CharField()
    answers = serializers.IntegerField(help_text="Answers counted (those in judged matches).")
    priced_answers = serializers.IntegerField(help_text="Answers the cost figure is over.")
    confidence = serializers.FloatField()
    scope = serializers.CharField()
    currency = serializers.CharField()
    cost_basis = CostBasisSerializer()
    price = PriceSerializer(allow_null=True, help_text="The current admin price.")
    latency_p50_ms = UsageFigureSerializer()
    latency_p95_ms = UsageFigureSerializer()
    tokens_per_answer = UsageFigureSerializer(help_text="Prompt plus completion tokens.")
    cost_per_answer = UsageFigureSerializer(help_text="In `currency`, over priced answers.")
    methods = UsageMethodsSerializer()


class RatingCostRowSerializer(serializers.Serializer):
    competitor_id = serializers.IntegerField()
    name = serializers.CharField()
    rating = serializers.FloatField(allow_null=True, help_text="Null: not in the snapshot.")
    lower = serializers.FloatField(allow_null=True)
    upper = serializers.FloatField(allow_null=True)
    rank = serializers.IntegerField(allow_null=True)
    answers = serializers.IntegerField(help_text="Answers counted (those in judged matches).")
    priced_answers = serializers.IntegerField(help_text="Answers the cost figure is over.")
    cost_basis = CostBasisSerializer()
    price = PriceSerializer(allow_null=True, help_text="The current admin price.")
    cost_per_battle = UsageFigureSerializer(
        help_text="Mean cost of this model's answer, in `currency`, over priced answers."
    )


class RatingCostMethodsSerializer(serializers.Serializer):
    rating = serializers.CharField()
    cost = serializers.CharField()


class RatingCostSerializer(serializers.Serializer):
    snapshot_version = serializers.IntegerField(allow_null=True)
    confidence = serializers.FloatField()
    scope = serializers.CharField()
    currency = serializers.CharField()
    methods = RatingCostMethodsSerializer()
    rows = RatingCostRowSerializer(many=True)


# --------------------------------------------------------------------------- tournaments


class TournamentSerializer(serializers.ModelSerializer):
    format = serializers.ChoiceField(choices=format_choices(), read_only=True)
    created_by = serializers.SerializerMethodField()
    competitors = serializers.SerializerMethodField()
    prompt_sets: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name"
    )

    class Meta:
        model = Tournament
        fields = [
            "id",
            "name",
            "format",
            "status",
            "config",
            "judge_pipeline",
            "seed",
            "prompt_sets",
            "competitors",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_created_by(self, obj: Tournament) -> str | None:
        return obj.created_by.username if obj.created_by_id and obj.created_by else None

    def get_competitors(self, obj: Tournament) -> list[str]:
        return [e.competitor.name for e in obj.entries.all()]


class TournamentDetailSerializer(TournamentSerializer):
    results = serializers.JSONField(read_only=True)

    class Meta(TournamentSerializer.Meta):
        fields = [*TournamentSerializer.Meta.fields, "results"]
        read_only_fields = fields


class TournamentCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    format = serializers.ChoiceField(choices=format_choices())
    competitors = serializers.ListField(
        child=serializers.CharField(max_length=100),
        min_length=2,
        max_length=512,
        help_text="Competitor names, in seed order.",
    )
    config = serializers.DictField(required=False, default=dict)
    prompt_sets = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )
    judge_pipeline = serializers.DictField(required=False, default=dict)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**62)


class MatchSideSerializer(serializers.Serializer):
    competitor_id = serializers.IntegerField()
    name = serializers.CharField()
    seed = serializers.IntegerField(allow_null=True)


class TournamentMatchSerializer(serializers.Serializer):
    """A tournament match as :func:`arena.selectors.tournaments.tournament_matches` gives it;
    the prompt, answers and judgments appear only once the match is judged (or its prompt set is
    public)."""

    id = serializers.IntegerField()
    round = serializers.IntegerField(allow_null=True)
    board = serializers.IntegerField(allow_null=True)
    a = MatchSideSerializer()
    b = MatchSideSerializer()
    status = serializers.ChoiceField(choices=Match.Status.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices, allow_null=True)
    attempts = serializers.IntegerField()
    forfeit_by = serializers.IntegerField(allow_null=True)
    finished_at = serializers.CharField(allow_null=True)
    prompt = serializers.CharField(allow_null=True)
    generations = serializers.ListField(child=serializers.DictField(), required=False)
    judgments = serializers.ListField(child=serializers.DictField(), required=False)
    judge_cost = serializers.CharField(
        required=False, help_text="The sum of the match's judge calls' cost (with details)."
    )


class TournamentMatchQuerySerializer(serializers.Serializer):
    round = serializers.IntegerField(required=False, min_value=1, max_value=10000)
    details = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Include answers and judgments of finished matches.",
    )


# --------------------------------------------------------------------------- battles and votes


class BattleQuerySerializer(serializers.Serializer):
    category = serializers.CharField(max_length=50, required=False, allow_blank=True)


class ServedBattleSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Signed single-use battle token; send it back with the vote."
    )
    expires_in = serializers.IntegerField(help_text="Seconds the token stays valid.")
    prompt = serializers.CharField()
    category = serializers.CharField()
    answer_a = serializers.CharField()
    answer_b = serializers.CharField()


class VoteInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000)
    outcome = serializers.ChoiceField(
        choices=[(c, c) for c in VOTE_CHOICES],
        help_text="As the voter saw the sides: A, B, tie or bothbad.",
    )


class VoteResultSerializer(serializers.Serializer):
    vote_id = serializers.IntegerField()
    battle_id = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=[(c, c) for c in VOTE_CHOICES])
    recorded_outcome = serializers.ChoiceField(
        choices=Outcome.choices, help_text="In the match's own sides."
    )
    model_a = serializers.CharField(help_text="The model shown as A.")
    model_b = serializers.CharField(help_text="The model shown as B.")
    category = serializers.CharField()
    created_at = serializers.DateTimeField()


# --------------------------------------------------------------------------- leaderboard


class LeaderboardQuerySerializer(serializers.Serializer):
    method = serializers.CharField(required=False, default="bt", max_length=32)
    # field named like Field.source
    source = serializers.CharField(required=False, default="combined", max_length=16)  # type: ignore[assignment]
    category = serializers.CharField(required=False, default="all", max_length=50)
    version = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    style_control = serializers.BooleanField(
        required=False,
        default=False,
        help_text="The style-controlled Bradley-Terry board (method bt_style): ratings with the "
        "effect of answer length, headers, lists and bold taken out; its coefficients are in "
        "board.style. Only with method=bt (the default) or bt_style.",
    )


class RatingRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    competitor_id = serializers.IntegerField(required=False, allow_null=True)
    rating = serializers.FloatField(allow_null=True)
    lower = serializers.FloatField(allow_null=True, required=False)
    upper = serializers.FloatField(allow_null=True, required=False)
    rank = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Rank(UB) among the established models of the main component; null for the "
        "others",
    )
    battles = serializers.IntegerField(required=False, allow_null=True)
    win_rate = serializers.FloatField(required=False, allow_null=True)
    opponents = serializers.IntegerField(required=False, help_text="Distinct opponents met")
    provisional = serializers.BooleanField(
        required=False, help_text="Below the listing rule (board.listing)"
    )
    component = serializers.IntegerField(
        required=False, help_text="Comparison-graph component; 0 is the main (largest) group"
    )
    withdrawn = serializers.BooleanField(required=False)
    section = serializers.ChoiceField(choices=["ranked", "provisional", "separate"], required=False)
    sampling = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="Still being sampled by the open arena (interval wider than the target); "
        "null on boards the arena does not sample from",
    )


class LeaderboardSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        required=False, help_text="The snapshot id (battles/export/?snapshot=<id>)"
    )
    method = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # field named like Field.source
    category = serializers.CharField()
    version = serializers.IntegerField()
    data_version = serializers.CharField()
    params = serializers.DictField()
    n_battles = serializers.IntegerField()
    n_models = serializers.IntegerField()
    compute_ms = serializers.IntegerField()
    created_at = serializers.CharField()
    inputs = serializers.DictField(
        required=False,
        help_text="Exactly which battles were used: source, category, battles_upto, "
        "pair_counts_upto, "
        "excluded_pair_counts (the private competitors left out are not listed); "
        "interval_battles_upto when the interval comes from fewer battles than the ratings",
    )
    board = serializers.DictField(
        required=False,
        help_text="interval (how bounds are computed), listing rule and freshness "
        "(rating_computed_at, interval_computed_at, interval_battles_upto, "
        "interval_n_battles: slow parts, Bradley-Terry's profile bounds among them, are "
        "refreshed every LUDUS_LEADERBOARD_SLOW_SECONDS); on the style-controlled "
        "board also style: features, coefficients (log-odds per standard deviation of each "
        "style difference), lower, upper, feature_mean, feature_std, tokenizer",
    )
    ratings = RatingRowSerializer(many=True)
    sampling = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="Sampling to a target (the arena's board only, else null): target_width "
        "(points), settled_confidence, and sampling (competitor ids still being sampled)",
    )


class LeaderboardScopeSerializer(serializers.Serializer):
    method = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # field named like Field.source
    category = serializers.CharField()
    latest_version = serializers.IntegerField()


class LeaderboardIndexSerializer(serializers.Serializer):
    methods = serializers.ListField(child=serializers.CharField())
    sources = serializers.ListField(child=serializers.CharField())
    categories = serializers.ListField(child=serializers.CharField())
    available = LeaderboardScopeSerializer(many=True)


# --------------------------------------------------------------------------- judges


class JudgeShareSerializer(serializers.Serializer):
    value = serializers.FloatField(help_text="successes / n")
    lower = serializers.FloatField(help_text="Lower end of the 95 % interval.")
    upper = serializers.FloatField(help_text="Upper end of the 95 % interval.")
    successes = serializers.IntegerField()
    n = serializers.IntegerField(help_text="Items the share counts.")
    method = serializers.ChoiceField(
        choices=["wilson", "cluster-bootstrap", "wilson-matches"],
        help_text="How the interval was computed.",
    )


class JudgeUsageSerializer(serializers.Serializer):
    calls = serializers.IntegerField(help_text="Judge calls (every stage, parse errors included).")
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    latency_p50_ms = UsageFigureSerializer()
    latency_p95_ms = UsageFigureSerializer()
    cost_total = serializers.FloatField(help_text="At the judge spec's prices.")
    cost_per_call = UsageFigureSerializer()


class JudgeDifferenceSerializer(serializers.Serializer):
    value = serializers.FloatField(help_text="Own-side share minus the baseline share.")
    lower = serializers.FloatField(help_text="Lower end of the 95 % interval.")
    upper = serializers.FloatField(help_text="Upper end of the 95 % interval.")
    method = serializers.ChoiceField(choices=["mover"], help_text="MOVER (Newcombe).")


class JudgeSelfPreferenceSerializer(serializers.Serializer):
    judge = serializers.CharField()
    provider = serializers.CharField(help_text="The provider the judge spec names ('' if none).")
    status = serializers.ChoiceField(choices=["shown", "not enough data", "not shown"])
    reason = serializers.CharField(help_text="Why a figure is missing ('' when all are shown).")
    matches = serializers.IntegerField(
        help_text="Matches the judge judged with exactly one own-provider side."
    )
    own_side_wins = JudgeShareSerializer(
        allow_null=True, help_text="Share of the judge's decisive outcomes won by its provider."
    )
    baseline = JudgeShareSerializer(
        allow_null=True,
        help_text="Same share from other judges and human votes on the same matches.",
    )
    difference = JudgeDifferenceSerializer(allow_null=True)


class JudgeReliabilitySerializer(serializers.Serializer):
    judge = serializers.CharField(help_text="Judge identity as stored with its verdicts.")
    judgments = serializers.IntegerField(help_text="Parsed primary-stage verdicts.")
    matches = serializers.IntegerField()
    position_bias = JudgeShareSerializer(allow_null=True)
    swap_inconsistency = JudgeShareSerializer(allow_null=True)
    decisiveness = JudgeShareSerializer(allow_null=True)
    human_agreement = JudgeShareSerializer(allow_null=True)
    human_matches_left_out = serializers.IntegerField(
        help_text="Matches with human votes but no single most frequent human outcome."
    )
    self_preference = JudgeSelfPreferenceSerializer(
        help_text="Whether the judge favours its own provider's competitors."
    )
    usage = JudgeUsageSerializer(help_text="Calls, tokens, latency and cost of this judge.")


class JudgeListSerializer(serializers.Serializer):
    judges = JudgeReliabilitySerializer(many=True)
    methodology = serializers.DictField(
        child=serializers.CharField(), help_text="How each figure and interval is computed."
    )


class JudgeRunCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    judge_pipeline = serializers.DictField(
        help_text="The judge pipeline to re-judge with (same shape as a tournament's)."
    )
    tournament = serializers.IntegerField(
        required=False, help_text="Re-judge this tournament's finished matches."
    )
    arena = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Re-judge the open arena's matches that have human votes.",
    )
    matches = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=100000,
        help_text="Re-judge exactly these finished matches.",
    )
    calibration_set = serializers.CharField(
        required=False,
        max_length=100,
        help_text="The frozen calibration set of the drift gate (default: the setting's).",
    )


class JudgeRunProgressSerializer(serializers.Serializer):
    matches = serializers.IntegerField()
    judged = serializers.IntegerField(help_text="Matches with a stored outcome.")
    undecided = serializers.IntegerField(help_text="Judged matches the pipeline could not decide.")
    calls = serializers.IntegerField(help_text="Judge calls of the run (calibration included).")
    cost = serializers.FloatField(help_text="Their cost at the judge spec's prices.")


class JudgeRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=JudgeRun.Status.choices)
    error = serializers.CharField(help_text="Why the run failed (a barred judge, say).")
    judge_pipeline = serializers.DictField()
    scope = serializers.DictField()
    progress = JudgeRunProgressSerializer()
    calibration = serializers.DictField(help_text="The drift gate's result per judge.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class JudgeRunDetailSerializer(JudgeRunSerializer):
    board = serializers.DictField(
        help_text="The judge board: method, params, interval and ratings rows as on the "
        "leaderboard (empty until the run is done)."
    )


class StabilityQuerySerializer(serializers.Serializer):
    a = serializers.CharField(
        max_length=40, help_text="A board: main, human, judge, import or run:<id>."
    )
    b = serializers.CharField(max_length=40, help_text="The board to compare it with.")


class StabilityBoardSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]


class RankMoveSerializer(serializers.Serializer):
    model = serializers.CharField()
    rank_a = serializers.IntegerField()
    rank_b = serializers.IntegerField()
    move = serializers.IntegerField(help_text="rank_b - rank_a (positive: lower on board b).")


class PairFlipSerializer(serializers.Serializer):
    higher_a = serializers.CharField(help_text="The model above on board a (below on b).")
    higher_b = serializers.CharField(help_text="The model above on board b (below on a).")
    separated_a = serializers.BooleanField(help_text="Board a's intervals separate the pair.")
    separated_b = serializers.BooleanField(help_text="Board b's intervals separate the pair.")
    significant = serializers.BooleanField(help_text="Both boards separate it, oppositely.")


class StabilitySerializer(serializers.Serializer):
    a = StabilityBoardSerializer()
    b = StabilityBoardSerializer()
    models = serializers.IntegerField(help_text="Models both boards rate.")
    only_a = serializers.ListField(child=serializers.CharField())
    only_b = serializers.ListField(child=serializers.CharField())
    n_pairs = serializers.IntegerField()
    tau = serializers.FloatField(allow_null=True, help_text="Kendall's tau-b.")
    tau_lower = serializers.FloatField(allow_null=True)
    tau_upper = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField()
    moves = RankMoveSerializer(many=True, help_text="The largest rank moves.")
    flips = PairFlipSerializer(many=True)
    n_flips = serializers.IntegerField()
    n_significant_flips = serializers.IntegerField()
    methodology = serializers.CharField()


# --------------------------------------------------------------------------- import / export


class ImportQuerySerializer(serializers.Serializer):
    fmt = serializers.ChoiceField(
        choices=[(f, f) for f in IMPORT_FORMATS], required=False, default="auto"
    )
    skip_invalid = serializers.BooleanField(required=False, default=False)
    create_models = serializers.BooleanField(required=False, default=False)
    anonymous_only = serializers.BooleanField(required=False, default=False)
    category = serializers.CharField(required=False, default="general", max_length=50)


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A battle file: JSON, JSON Lines, battle CSV or pair-counts CSV."
    )


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    batch_id = serializers.IntegerField()
    kind = serializers.CharField(
        help_text="pairs (stored as pair counts) or records (stored as battles)."
    )
    n_rows = serializers.IntegerField()
    n_battles = serializers.IntegerField()
    n_stored = serializers.IntegerField()
    skipped = serializers.IntegerField()
    # field named like .errors
    errors = ImportErrorSerializer(many=True)  # type: ignore[assignment]
    created_models = serializers.ListField(child=serializers.CharField())
    n_kwise = serializers.IntegerField(
        help_text="K-wise records imported (stored as K-wise battles, not in n_battles)."
    )


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=[(f, f) for f in EXPORT_FORMATS], required=False, default="jsonl"
    )
    source = serializers.ChoiceField(  # type: ignore[assignment]  # field named like Field.source
        choices=[("human", "human"), ("judge", "judge"), ("import", "import")], required=False
    )
    category = serializers.CharField(required=False, max_length=50)
    snapshot = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="A leaderboard snapshot id: exactly the battles it was computed from (not with "
        "source/category)",
    )


class PublicExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=[("jsonl", "jsonl"), ("csv", "csv")], required=False, default="jsonl"
    )


# --------------------------------------------------------------------------- K-wise votes


class KwiseQuerySerializer(serializers.Serializer):
    k = serializers.ChoiceField(
        choices=[(k, str(k)) for k in KWISE_SIZES],
        required=False,
        default=4,
        help_text="How many answers to rank (3 or 4).",
    )
    category = serializers.CharField(max_length=50, required=False, allow_blank=True)


class KwiseAnswerSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="A, B, C or D, in the order shown.")  # type: ignore[assignment]
    text = serializers.CharField()


class ServedKwiseSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Signed single-use battle token; send it back with the ranking."
    )
    expires_in = serializers.IntegerField(help_text="Seconds the token stays valid.")
    prompt = serializers.CharField()
    category = serializers.CharField()
    k = serializers.IntegerField()
    answers = KwiseAnswerSerializer(many=True)


class KwiseVoteInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000)
    ranking = serializers.ListField(
        child=serializers.CharField(max_length=8),
        max_length=10,
        help_text="The answer labels best first, each exactly once (no ties): "
        'for example ["C", "A", "D", "B"].',
    )


class KwiseResultEntrySerializer(serializers.Serializer):
    label = serializers.CharField()  # type: ignore[assignment]
    model = serializers.CharField()
    rank = serializers.IntegerField(help_text="1 = best.")


class KwiseVoteResultSerializer(serializers.Serializer):
    kwise_battle_id = serializers.IntegerField()
    k = serializers.IntegerField()
    ranking = serializers.ListField(child=serializers.CharField())
    results = KwiseResultEntrySerializer(many=True, help_text="In the order shown.")
    category = serializers.CharField()
    created_at = serializers.DateTimeField()
