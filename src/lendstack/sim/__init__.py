"""Seeded synthetic borrowers, businesses and outcomes for the demo, tests and benchmarks."""
