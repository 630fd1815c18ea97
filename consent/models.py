"""Consent models: notices, consent events and jurisdiction rules (consent core issue)."""
