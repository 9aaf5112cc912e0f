"""Sending steps (``match``, ``round_check``) to the workers, or running them in-process.

A step is named, not imported: :func:`dispatch` sends the step's Celery task by name
(:func:`arena.services.queue.task_send_on_commit`) after the transaction commits. Inside
:func:`inline_dispatch` steps are queued in-process instead and :func:`run_inline` drives them
to completion with the handlers the step modules registered (:func:`step_handler`), which is
how the demo and the tests run tournaments synchronously. This module imports no other
service, so every service may dispatch without an import cycle.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import Any

from arena.services.queue import task_send_on_commit

StepQueue = collections.deque[tuple[str, tuple[Any, ...]]]
StepHandler = Callable[..., "float | None"]

#: The Celery task that runs each step in a worker (``workers.tasks.matches``).
STEP_TASKS = {
    "match": "workers.tasks.matches.run_match_step_task",
    "round_check": "workers.tasks.matches.round_check_task",
}

_handlers: dict[str, StepHandler] = {}
_inline_queue: contextvars.ContextVar[StepQueue | None] = contextvars.ContextVar(
    "ludus_inline_queue", default=None
)


def step_handler(step: str) -> Callable[[StepHandler], StepHandler]:
    """Register the in-process handler of ``step`` (it returns a retry delay or ``None``)."""
    if step not in STEP_TASKS:
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEP_TASKS)}")

    def register(fn: StepHandler) -> StepHandler:
        _handlers[step] = fn
        return fn

    return register


def dispatch(step: str, *args: Any, countdown: float | None = None) -> None:
    """Send a step to the workers after the transaction commits (queue it inside
    :func:`inline_dispatch`)."""
    if step not in STEP_TASKS:
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEP_TASKS)}")
    queue = _inline_queue.get()
    if queue is not None:
        queue.append((step, args))
        return
    task_send_on_commit(name=STEP_TASKS[step], args=args, countdown=countdown)


@contextlib.contextmanager
def inline_dispatch() -> Iterator[StepQueue]:
    """Queue steps in-process instead of sending them to Celery (see :func:`run_inline`)."""
    queue: StepQueue = collections.deque()
    token = _inline_queue.set(queue)
    try:
        yield queue
    finally:
        _inline_queue.reset(token)


def run_step(step: str, *args: Any) -> float | None:
    """Run one step in this process; returns a retry delay in seconds, or ``None`` when done."""
    handler = _handlers.get(step)
    if handler is None:
        raise LookupError(
            f"no in-process handler for step {step!r}; import the service module that "
            "registers it (arena.services.matches or arena.services.tournaments)"
        )
    return handler(*args)


def run_inline(queue: StepQueue, *, max_steps: int = 1_000_000) -> int:
    """Drive queued steps (and the steps they queue) until none is left; returns steps run."""
    done = 0
    while queue and done < max_steps:
        step, args = queue.popleft()
        delay = run_step(step, *args)
        if delay is not None:
            time.sleep(min(delay, 0.05))
            queue.append((step, args))
        done += 1
    return done
