"""The service layer: thin use cases that the CLI, the API and the console call. Each opens a unit
of work, loads aggregates through repositories, calls the pure domain, and saves the outcome
(state, ledger entries, outbox events) in one transaction."""
