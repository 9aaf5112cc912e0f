from django.apps import AppConfig


class ArenaConfig(AppConfig):
    name = "arena"
    verbose_name = "Ludus arena"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from arena.services.style_board import style_board_register

        style_board_register()
