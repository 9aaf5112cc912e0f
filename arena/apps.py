from django.apps import AppConfig


class ArenaConfig(AppConfig):
    name = "arena"
    verbose_name = "Ludus arena"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The service owns its processes (web, worker, commands): BLAS runs on one thread in
        # them. Its rating systems are small (a few hundred models) and OpenBLAS's thread
        # hand-off made Bradley-Terry fits 2-9x slower on this shared 2-core machine
        # (bench/RESULTS.md, "BLAS threads"); the library itself never sets this.
        import numpy  # noqa: F401  (loads BLAS, so that the limit reaches it)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")

        from arena.services.style_board import style_board_register

        style_board_register()

        from arena.services.kwise_board import kwise_board_register

        kwise_board_register()
