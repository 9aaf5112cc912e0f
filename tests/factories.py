"""factory_boy factories: each test sets only the fields it cares about."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import factory
from django.contrib.auth import get_user_model

from arena import models as m


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class CompetitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Competitor

    name = factory.Sequence(lambda n: f"model-{n}")
    kind = m.Competitor.Kind.SIMULATED
    status = m.Competitor.Status.ACTIVE
    sim_strength = 1000.0
    sim_seed = factory.Sequence(lambda n: n)


class PromptSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.PromptSet

    name = factory.Sequence(lambda n: f"prompts-{n}")
    category = "general"


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Prompt

    prompt_set = factory.SubFactory(PromptSetFactory)
    text = factory.Sequence(lambda n: f"Question {n}: explain something.")


def prompt_set_with_prompts(n: int, *, text: str | None = None, **fields: Any) -> m.PromptSet:
    """A prompt set (``fields`` go to :class:`PromptSetFactory`) holding ``n`` prompts.

    ``text`` is each prompt's text, formatted with its index ``i`` and the set's ``name``
    (``"Question {i}: explain topic {i}."``); without it, :class:`PromptFactory`'s own.
    """
    prompt_set = PromptSetFactory.create(**fields)
    for i in range(n):
        if text is None:
            PromptFactory(prompt_set=prompt_set)
        else:
            PromptFactory(prompt_set=prompt_set, text=text.format(i=i, name=prompt_set.name))
    return prompt_set


def endpoint_competitors(base_url: str, models: Iterable[str], **fields: Any) -> list[m.Competitor]:
    """An active OpenAI-compatible competitor for each model served at ``base_url`` (a local
    test server, so the internal address is allowed), named after the model."""
    return [
        m.Competitor.objects.create(
            name=name,
            kind=m.Competitor.Kind.OPENAI,
            status=m.Competitor.Status.ACTIVE,
            endpoint_url=base_url,
            endpoint_model=name,
            allow_internal=True,
            **fields,
        )
        for name in models
    ]


class TournamentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Tournament

    name = factory.Sequence(lambda n: f"tournament-{n}")
    format = "round_robin"


class MatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Match

    competitor_a = factory.SubFactory(CompetitorFactory)
    competitor_b = factory.SubFactory(CompetitorFactory)
    prompt = factory.SubFactory(PromptFactory)


class BattleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Battle

    model_a = factory.SubFactory(CompetitorFactory)
    model_b = factory.SubFactory(CompetitorFactory)
    outcome = m.Outcome.MODEL_A
    source = m.Source.HUMAN
