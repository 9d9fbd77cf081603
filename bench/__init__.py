"""Benchmarks: `make bench` prints figures, tests never assert timings."""
