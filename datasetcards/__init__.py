"""Datasets, licenses, immutable releases and their signed dataset cards."""
