"""What consent announces to the apps above it, which it never imports.

``outbox_written`` is sent inside the transaction that writes an outbox row (the
withdrawal, expiry or erasure it announces). A receiver that raises rolls the act back:
propagation plans every target in that same transaction, so a withdrawal is never
acknowledged to a speaker without its plan."""

from __future__ import annotations

from django.dispatch import Signal

# sender=ConsentOutbox, row=<ConsentOutbox>
outbox_written = Signal()
