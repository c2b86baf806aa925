"""Analysis: a dataset's statistics, quality checks, drift against a reference, and their plots."""
