"""Check a downloaded card: ``verify_card card.json`` (its embedded signature) or
``verify_card FILE --signatures card.sig`` (any rendering against the .sig document)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from datasetcards.cards.render import _strict_json, verify_card, verify_rendering


class Command(BaseCommand):
    help = "Verify a dataset card's Ed25519 signature against the registry's published keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--signatures", type=Path, help="the release's card.sig")
        parser.add_argument("--name", help="the rendering's name in card.sig (default: file name)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            body = path.read_bytes()
            if options["signatures"] is None:
                valid = verify_card(_strict_json(body))
            else:
                document = json.loads(options["signatures"].read_text())
                name = options["name"] or path.name
                entry = document["files"][name]
                valid = verify_rendering(name, body, entry["signature"], entry.get("sha256"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"cannot read the card or its signatures: {exc}") from exc
        if not valid:
            raise CommandError(f"INVALID: {path} does not match its signature")
        self.stdout.write(self.style.SUCCESS(f"valid: {path}"))
