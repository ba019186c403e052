"""lendstack: an open-source lending platform.

The package map lives in DESIGN.md; each subpackage is one bounded context.
"""

__version__ = "0.1.0"
