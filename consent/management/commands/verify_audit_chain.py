"""Recompute the consent event chain and report the first broken link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from consent import chain
from consent.models import ChainHead


class Command(BaseCommand):
    help = "Verify the hash chain of consent events and the signed checkpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=100_000)
        parser.add_argument(
            "--checkpoint", action="store_true", help="write a signed checkpoint if it verifies"
        )

    def handle(self, *args: Any, batch_size: int, checkpoint: bool, **options: Any) -> None:
        head = ChainHead.objects.filter(pk=1).first()
        with tqdm(
            total=head.seq if head else 0,
            unit="event",
            desc="verifying",
            disable=options["verbosity"] == 0,
            file=self.stderr,
        ) as bar:
            report = chain.verify_chain(batch_size=batch_size, on_batch=bar.update)
        if not report.ok:
            problems = [report.problem, *report.checkpoint_problems]
            raise CommandError("audit chain BROKEN: " + "; ".join(p for p in problems if p))
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain OK: {report.events_checked} events, head #{report.head_seq} "
                f"{report.head_hash[:16]}…, {report.checkpoints_checked} checkpoints verified"
            )
        )
        if checkpoint:
            written = chain.write_checkpoint()
            self.stdout.write(f"checkpoint written at #{written.seq} (key {written.kid})")
