"""Benchmarks run by tools/benchmark.py: one module per mode with add_arguments(parser) and run(args)."""
