"""Decisioning: declarative versioned policies, the decision flow, reason codes, champion/challenger, backtests.

- `policy`: policies are data (YAML/JSON, pydantic-validated, content-hashed); `PolicyError` names
  the file, line and reason. `expr`: the safe expression language (row evaluator + polars).
- `flow.decide`: the pure decision core → `Decision` (outcome, grade, PD, price, limit, offer,
  reason codes EN/ZH, versions, fingerprints, input hash).
- `champion`: deterministic traffic split and shadow comparison. `backtest`: the columnar path.
"""

from lendstack.decisioning.backtest import BacktestError, backtest, decide_frame, score_frame
from lendstack.decisioning.champion import Experiment, assign, compare
from lendstack.decisioning.expr import Expression, ExpressionError, compile_expression
from lendstack.decisioning.flow import DecisionInputError, decide, product_catalog
from lendstack.decisioning.model import ScoringModel
from lendstack.decisioning.policy import Policy, PolicyError, list_policies, load_policy, load_policy_file, parse_policy
from lendstack.decisioning.types import Decision, FlagRecord, Offer, ReasonCode

__all__ = [
    "BacktestError", "Decision", "DecisionInputError", "Experiment", "Expression", "ExpressionError", "FlagRecord",
    "Offer", "Policy", "PolicyError", "ReasonCode", "ScoringModel", "assign", "backtest", "compare",
    "compile_expression", "decide", "decide_frame", "list_policies", "load_policy", "load_policy_file",
    "parse_policy", "product_catalog", "score_frame",
]
