"""Ludus ranking library: ratings, pairings, brackets and simulations (numpy/scipy only).

This package never imports Django. Public functions are re-exported here.
"""

from __future__ import annotations

from ranking.alpharank import (
    AlphaRankResult,
    alpharank_from_battles,
    alpharank_game,
    alpharank_sweep,
)
from ranking.battle_files import ReadResult, battles_from_records, read_battles, write_battles
from ranking.battles import Battles, components
from ranking.bracket import (
    BracketProbabilities,
    BracketState,
    DoubleEliminationResult,
    bracket_advance,
    bracket_create,
    bracket_monte_carlo,
    bracket_probabilities,
    bracket_ranking,
    bracket_samples,
    double_elimination,
    seed_slots,
    win_matrix,
)
from ranking.bradley_terry import bradley_terry, predict_win_matrix
from ranking.elo import elo
from ranking.errors import (
    BattleFileError,
    ConvergenceError,
    InputError,
    PairingError,
    RankingError,
    RankingWarning,
)
from ranking.kwise import (
    KwiseVotes,
    implied_pairs,
    kwise_bradley_terry,
    kwise_openskill,
    plackett_luce_sample,
)
from ranking.openskill import openskill_rank_update, openskill_rate
from ranking.power import PowerPlan, battles_power, battles_to_separate
from ranking.rank_stability import RankStability, kendall_tau_b, rank_stability
from ranking.roundrobin import (
    RoundRobinSchedule,
    RoundRobinStandings,
    berger_table,
    round_robin,
    round_robin_standings,
)
from ranking.simulate import (
    FailureSensitivity,
    SwissDynamicsResult,
    TournamentPrediction,
    failure_sensitivity,
    predict_tournament,
    scores_to_win,
    simulate_format,
    swiss_dynamics,
    swiss_dynamics_samples,
)
from ranking.swiss import (
    Pairing,
    RoundResult,
    Scoring,
    SwissPlayer,
    SwissState,
    pair_round,
    play_swiss,
    record_round,
    swiss_from_ratings,
)
from ranking.tiebreaks import TIEBREAKS, StandingsRow, compute_tiebreaks, standings
from ranking.trf import TrfFile, parse_trf, read_trf, write_trf
from ranking.types import A_WINS, B_WINS, OUTCOMES, TIE, TIE_BOTHBAD, RatingResult
from ranking.usage import Estimate, UsageSummary, answer_usage
from ranking.winrate import average_win_rate, win_rate_matrix

__all__ = [
    "Estimate",
    "UsageSummary",
    "answer_usage",
    "kendall_tau_b",
    "rank_stability",
    "RankStability",
    "Battles",
    "RankingWarning",
    "ReadResult",
    "average_win_rate",
    "battles_from_records",
    "bradley_terry",
    "components",
    "elo",
    "predict_win_matrix",
    "read_battles",
    "write_battles",
    "win_rate_matrix",
    "AlphaRankResult",
    "alpharank_from_battles",
    "alpharank_game",
    "alpharank_sweep",
    "openskill_rank_update",
    "KwiseVotes",
    "implied_pairs",
    "kwise_bradley_terry",
    "kwise_openskill",
    "plackett_luce_sample",
    "openskill_rate",
    "PowerPlan",
    "battles_power",
    "battles_to_separate",
    "A_WINS",
    "B_WINS",
    "OUTCOMES",
    "TIE",
    "TIE_BOTHBAD",
    "BattleFileError",
    "ConvergenceError",
    "InputError",
    "PairingError",
    "RankingError",
    "RatingResult",
    "BracketProbabilities",
    "BracketState",
    "FailureSensitivity",
    "RoundRobinSchedule",
    "RoundRobinStandings",
    "SwissDynamicsResult",
    "TournamentPrediction",
    "berger_table",
    "bracket_advance",
    "bracket_create",
    "bracket_monte_carlo",
    "bracket_probabilities",
    "bracket_ranking",
    "bracket_samples",
    "double_elimination",
    "DoubleEliminationResult",
    "failure_sensitivity",
    "predict_tournament",
    "round_robin",
    "round_robin_standings",
    "scores_to_win",
    "seed_slots",
    "simulate_format",
    "swiss_dynamics",
    "swiss_dynamics_samples",
    "win_matrix",
    "Pairing",
    "RoundResult",
    "Scoring",
    "StandingsRow",
    "SwissPlayer",
    "SwissState",
    "TIEBREAKS",
    "TrfFile",
    "compute_tiebreaks",
    "pair_round",
    "parse_trf",
    "play_swiss",
    "read_trf",
    "record_round",
    "standings",
    "swiss_from_ratings",
    "write_trf",
]
