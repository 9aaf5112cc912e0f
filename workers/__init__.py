"""Celery workers: the app, tasks, model endpoint and judge clients."""

from workers.celery import app as celery_app

__all__ = ["celery_app"]
