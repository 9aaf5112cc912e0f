"""Sending work to the Celery workers by task name: the one way services enqueue.

Dependencies run one way (``workers.tasks`` imports the services, never the reverse), so a
service names its task instead of importing it. ``workers.celery`` holds only the app and its
configuration and imports no project code, so importing it from here makes no cycle.

In eager mode (``LUDUS_EAGER=1``: the demo and most tests) Celery's ``send_task`` would still
go to a broker, so the task is looked up in the app's registry (loading the task modules the
way a worker does on start) and run in-process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from workers.celery import app


def task_send(*, name: str, args: Sequence[Any] = (), countdown: float | None = None) -> None:
    """Send the task called ``name`` now (eager mode: run it now, in this process)."""
    if app.conf.task_always_eager:
        app.loader.import_default_modules()
        # countdown=None means now
        app.tasks[name].apply_async(args=tuple(args), countdown=countdown)  # type: ignore[arg-type]
        return
    app.send_task(name, args=list(args), countdown=countdown)


def task_send_on_commit(
    *, name: str, args: Sequence[Any] = (), countdown: float | None = None
) -> None:
    """Send the task called ``name`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task_send(name=name, args=args, countdown=countdown))
