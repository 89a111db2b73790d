"""Batched ground-state jobs: sweep files, execution, results store (see issue: jobs)."""
