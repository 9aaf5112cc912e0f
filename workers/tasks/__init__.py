"""Celery tasks, one module per domain; each body loads by id and calls a service."""

from workers.tasks.leaderboard import rebuild_leaderboards_task

__all__ = ["rebuild_leaderboards_task"]
