"""Benchmarks of the warehouse side and the sync job against a pandas + hashlib baseline.

`make bench` runs `python -m bench.run`; see bench/README.md for what is measured and how.
"""
