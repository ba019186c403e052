"""The `lendstack` command: a thin shell over the domain packages (one module per command group)."""
