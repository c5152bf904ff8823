"""Benchmarks: `make bench` (`python -m bench`). Everything measured is started here on
loopback and stopped afterwards; every figure is reported as a ratio against a baseline
measured in the same run, because these machines are shared and noisy."""
