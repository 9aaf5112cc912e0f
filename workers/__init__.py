"""Celery workers: the app (:mod:`workers.celery`), its broker transport and the tasks."""

from workers.celery import app as celery_app

__all__ = ["celery_app"]
