"""Celery tasks, one module per domain; each body loads by id and calls a service."""

from workers.tasks.arena import arena_top_up_task
from workers.tasks.judge_runs import judge_run_match_task, judge_run_start_task
from workers.tasks.leaderboard import rebuild_leaderboards_task
from workers.tasks.maintenance import sweep_stuck_task
from workers.tasks.matches import round_check_task, run_match_step_task

__all__ = [
    "arena_top_up_task",
    "judge_run_match_task",
    "judge_run_start_task",
    "rebuild_leaderboards_task",
    "round_check_task",
    "run_match_step_task",
    "sweep_stuck_task",
]
