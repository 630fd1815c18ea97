"""`make bench` runs end to end at a tiny size and prints every figure with its goal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parents[2]
FIGURES = [
    "generate_corpus: recordings/s",
    "export: ours / COPY",
    "export: peak RSS of ours, MB",
    "export: naive / ours (per row)",
    "explain_eligibility: queries",
    "explain_eligibility: ms",
    "withdraw hub 1: recordings of the speaker",
    "withdraw hub 1: p95 ms",
    "withdraw hub 2: p95 ms",
    "verify_audit_chain: events/s",
    "release: tracks frozen",
    "release: build / COPY of eligible tracks",
    "cards: JSON + Croissant s",
    "cards: PDF s",
    "manifest: HTTP / COPY",
    "eligibility page: p95 ms (8 clients)",
    "baseline: authenticated API read (3 queries): requests/s",
    "consent write: grants/s (8 clients)",
    "consent write: withdrawal p95 ms",
    "bulk ingestion: recordings/s",
]


def test_bench_runs_at_n_1000_and_prints_every_figure() -> None:
    env = {
        **os.environ,
        "BENCH_RECORDINGS": "1000",
        "BENCH_DATABASE": "registry_bench_ci",
        # The API part at a size that only proves it runs.
        "BENCH_API_WRITES": "40",
        "BENCH_API_PAGES": "40",
        "BENCH_API_BULK": "20",
    }
    result = subprocess.run(
        [sys.executable, "bench/run.py"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for figure in FIGURES:
        assert f"| {figure} |" in result.stdout, figure
    assert "| ≤ 1.5 |" in result.stdout
    assert "| consent write: errors | 0.00 | 0.00 |" in result.stdout
    assert "EXPLAIN (ANALYZE, BUFFERS)" in result.stdout
