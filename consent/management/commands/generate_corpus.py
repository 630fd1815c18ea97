"""Fill the database with a synthetic corpus at production scale (PostgreSQL COPY)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from consent.corpus import generate_corpus


class Command(BaseCommand):
    help = (
        "Generate N two-channel recordings with ~N/3 speakers and their consent history "
        "(deterministic for a seed). Never run against production data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--recordings", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--hub-recordings",
            type=str,
            default="",
            help="comma-separated: one extra speaker on that many calls each, e.g. 1000,10000",
        )

    def handle(
        self, *args: Any, recordings: int, seed: int, hub_recordings: str, **options: Any
    ) -> None:
        from django.conf import settings

        if settings.PRODUCTION:
            raise CommandError("generate_corpus refuses to run in production")
        hubs = tuple(int(h) for h in hub_recordings.split(",") if h.strip())
        bars: dict[str, tqdm] = {}

        def progress(stage: str, count: int) -> None:
            bar = bars.setdefault(
                stage,
                tqdm(desc=stage, unit="row", file=self.stderr, disable=options["verbosity"] == 0),
            )
            bar.update(count - bar.n)

        started = time.perf_counter()
        try:
            stats = generate_corpus(
                recordings=recordings, seed=seed, hub_recordings=hubs, progress=progress
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        self.stdout.write(
            f"generated {stats.recordings} recordings, {stats.tracks} tracks, "
            f"{stats.speakers} speakers, {stats.events} consent events "
            f"({stats.withdrawals} withdrawals, {stats.expired} expiries) "
            f"in {time.perf_counter() - started:.1f} s"
        )
