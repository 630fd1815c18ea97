"""Re-encrypt speakers' personal data under the primary PII key (after a key rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from registry import services
from registry.models import Speaker


class Command(BaseCommand):
    help = (
        "Re-encrypt every speaker's personal data with the first key of PII_ENCRYPTION_KEYS "
        "and rebuild the email blind index. Safe to interrupt and run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        with tqdm(
            total=Speaker.objects.count(),
            unit="speaker",
            desc="re-encrypting",
            disable=options["verbosity"] == 0,
            file=self.stderr,
        ) as bar:
            result = services.rotate_pii_keys(batch_size=batch_size, on_batch=bar.update)
        self.stdout.write(
            f"examined {result.speakers_examined} speakers, rewrote {result.speakers_rewritten} "
            f"({result.values_reencrypted} values re-encrypted)"
        )
