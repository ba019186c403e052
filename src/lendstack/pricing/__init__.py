"""Risk-based pricing, credit limits and legal caps."""
