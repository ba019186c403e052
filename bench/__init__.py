"""Benchmarks, run by `lendstack bench NAME`. Each prints a Rich table, or one flat JSON object."""
