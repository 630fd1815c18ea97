"""Consent notices, the append-only consent event log, jurisdiction rules and eligibility."""
