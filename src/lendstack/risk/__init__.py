"""Portfolio credit risk beside monitoring: expected credit loss (IFRS 9 / CECL, `ecl`) and macro
stress tests with scenarios as data (`stress`, `scenarios/`)."""
