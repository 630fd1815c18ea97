"""What datasetcards announces to the apps above it (which it never imports).

``release_built`` is sent inside the transaction that marks a release built: its
eligibility was decided at ``as_of``, so withdrawals made since then (while it was
queued or building) must reach it too; propagation adds those targets there."""

from __future__ import annotations

from django.dispatch import Signal

# sender=Release, release=<Release>
release_built = Signal()
