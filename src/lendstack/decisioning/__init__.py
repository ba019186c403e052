"""Decisioning: declarative versioned policies, the decision flow, reason codes, champion/challenger, backtests."""
