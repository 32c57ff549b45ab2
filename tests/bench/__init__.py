"""Benchmarks of the whole service (`make bench`); not collected by `make test`."""
