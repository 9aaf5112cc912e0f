"""``manage.py create_api_key USER [--create] [--staff] [--name NAME]``: print a new API key."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.services.accounts import api_key_issue


class Command(BaseCommand):
    help = "Issue an API key for USER and print it (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--create", action="store_true", help="Create the user if missing (API-key only login)."
        )
        parser.add_argument(
            "--staff", action="store_true", help="With --create: make the new user an admin."
        )
        parser.add_argument("--name", default="cli", help="A label for the key.")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = options["username"]
        user = User.objects.filter(username=username).first()
        if user is None:
            if not options["create"]:
                raise CommandError(f"no user named {username!r}; pass --create to create one")
            user = User(username=username, is_staff=options["staff"])
            user.set_unusable_password()
            user.save()
            self.stderr.write(f"created user {username!r}{' (staff)' if options['staff'] else ''}")
        _, raw = api_key_issue(user=user, name=options["name"])
        self.stderr.write("API key (store it now; it is not shown again):")
        self.stdout.write(raw)
