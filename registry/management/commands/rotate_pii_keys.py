"""Re-encrypt speakers' personal data under the primary PII key (after a key rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from registry.key_rotation import encrypted_tables, rotate_pii_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt all personal data with the first key of PII_ENCRYPTION_KEYS and rebuild "
        "blind indexes. Safe to interrupt and run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        with tqdm(
            total=sum(table.count() for table in encrypted_tables()),
            unit="row",
            desc="re-encrypting",
            disable=options["verbosity"] == 0,
            file=self.stderr,
        ) as bar:
            result = rotate_pii_keys(batch_size=batch_size, on_batch=bar.update)
        self.stdout.write(
            f"examined {result.rows_examined} rows in {result.tables} tables, rewrote "
            f"{result.rows_rewritten} ({result.values_reencrypted} values re-encrypted)"
        )
