"""Verify a signed consent receipt (JSON file, or - for standard input)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.receipts import verify_receipt


class Command(BaseCommand):
    help = "Check a consent receipt's Ed25519 signature against the published keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="receipt JSON file, or - for standard input")

    def handle(self, *args: Any, path: str, **options: Any) -> None:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            envelope = json.loads(text)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read a receipt from {path}: {exc}") from exc
        if not isinstance(envelope, dict) or not verify_receipt(envelope):
            raise CommandError("receipt signature INVALID")
        receipt = envelope["receipt"]
        self.stdout.write(
            self.style.SUCCESS(
                f"receipt {receipt.get('consentReceiptID')} verified "
                f"(key {envelope['signature'].get('kid')})"
            )
        )
