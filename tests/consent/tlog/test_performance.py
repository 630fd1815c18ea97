"""A smoke test that the tree stays in C-level hashing: generous bounds, so a loaded CI
machine does not fail it, yet a per-node Python regression (10x slower) would."""

from __future__ import annotations

import time

from consent.tlog import merkle, stored

LEAVES = 100_000


def test_hundred_thousand_leaves_hash_and_root_within_two_seconds():
    entries = [b"event %d" % i for i in range(LEAVES)]
    started = time.perf_counter()
    root = merkle.root(merkle.leaf_hashes(entries))
    elapsed = time.perf_counter() - started
    assert len(root) == 32
    assert elapsed < 2.0, f"{LEAVES / elapsed:,.0f} leaves/s"


def test_compact_range_appends_a_hundred_thousand_leaves_within_two_seconds():
    hashes = merkle.leaf_hashes(b"%d" % i for i in range(LEAVES))
    state = merkle.CompactRange()
    started = time.perf_counter()
    written = state.extend(hashes)
    elapsed = time.perf_counter() - started
    assert len(written) == stored.stored_hash_count(LEAVES)
    assert elapsed < 2.0, f"{LEAVES / elapsed:,.0f} leaves/s"
