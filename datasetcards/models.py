"""Dataset, release and license models (datasets and cards issue)."""
