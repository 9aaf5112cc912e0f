"""Which prompts may be shown: the one rule every read path and prompt draw follows.

A prompt set is server-side benchmark data (the DEP principle: it stays on the server until
judged). A match's prompt is shown once the match is judged (``done``); a cancelled, failed
or forfeited match never was, so its prompt stays hidden. The exception is a ``public``
prompt set: the open arena serves those to voters before any judgment, so they are public
by the admin's choice. A prompt is *published* once shown anywhere: tournaments do not draw
published prompts again unless their ``reuse_published_prompts`` says so.
"""

from __future__ import annotations

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from arena.models import Match, Prompt, PromptSet

JUDGED = Match.Status.DONE


def match_prompt_shown() -> Q:
    """The matches whose prompt may be shown (a filter on ``Match``)."""
    return Q(status=JUDGED) | Q(
        prompt__in=Prompt.objects.filter(prompt_set__public=True).values("pk")
    )


def matches_with_prompt_shown(matches: QuerySet[Match]) -> QuerySet[Match]:
    """``matches`` annotated with ``prompt_shown`` (bool) by :func:`match_prompt_shown`."""
    return matches.annotate(
        prompt_shown=ExpressionWrapper(match_prompt_shown(), output_field=BooleanField())
    )


def prompts_published() -> QuerySet[Prompt]:
    """Prompts anyone may have read: in a public set, or the prompt of a judged match."""
    judged = Match.objects.filter(prompt=OuterRef("pk"), status=JUDGED)
    return Prompt.objects.filter(Q(prompt_set__public=True) | Q(Exists(judged)))


def prompts_for_open_arena() -> QuerySet[Prompt]:
    """The prompts the open arena may serve: those of public prompt sets."""
    return Prompt.objects.filter(prompt_set__in=PromptSet.objects.filter(public=True))
