"""Benchmarks of the storage toolkit against raw use of the same engines (``make bench``).

See ``docs/performance.md`` for what each figure measures, and ``bench/harness.py`` for how
to add one.
"""
