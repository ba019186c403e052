"""Policies are data: a YAML/JSON document validated by pydantic (unknown keys refused), with a
version and a content hash (sha256 of the canonical JSON). An invalid document is a PolicyError
naming the file, the line and the reason. Expressions are compiled at load time with their names,
types and value ranges checked against the application schema (decisioning.names): a policy that
loads can be evaluated on any application without a type error or an overflow, and the columnar
backtest gives the same answer as the online decision.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lendstack.decisioning.expr import Expression, ExpressionError, compile_expression
from lendstack.decisioning.names import KNOCKOUT_NAMES, NAME_TYPES, RULE_NAMES, NameType
from lendstack.documents import DocumentError, Located, parse_located, read_text, validate_document
from lendstack.pricing import LimitPolicy, PricingPolicy
from lendstack.pricing.policy import Share
from lendstack.text import CleanName

POLICY_DIR = Path(__file__).with_name("policies")
_SUFFIXES = (".yaml", ".yml", ".json")
_FROZEN = ConfigDict(frozen=True, extra="forbid")
Code = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1)]
Name = Annotated[CleanName, Field(min_length=1, max_length=200)]  # shown to staff: NFC, no hidden characters
Action = Literal["refer", "decline", "proceed"]
Severity = Literal["info", "warn", "high", "critical"]
GRADES = ("A", "B", "C", "D", "E")


class PolicyError(DocumentError):
    """An unreadable or invalid policy: the file, the line (0 if unknown), the field and the reason."""

    path_field = "policy"
    shape = "a policy is a mapping of sections"


class Knockout(BaseModel):
    model_config = _FROZEN
    code: Code
    when: Text
    en: Text
    zh: Text


class Rule(BaseModel):
    model_config = _FROZEN
    name: Name
    when: Text
    action: Literal["refer", "decline", "flag"]
    code: Code
    en: Text
    zh: Text


class ModelRef(BaseModel):
    model_config = _FROZEN
    name: Name = "default"
    version: Name = "champion"


class GradeCut(BaseModel):
    model_config = _FROZEN
    grade: Literal["A", "B", "C", "D", "E"]
    pd_max: Share


class DecisionRules(BaseModel):
    model_config = _FROZEN
    decline_grades: tuple[Literal["A", "B", "C", "D", "E"], ...] = ("E",)
    refer_grades: tuple[Literal["A", "B", "C", "D", "E"], ...] = ()
    refer_severity: Severity = "high"
    decline_severity: Severity = "critical"
    model_reasons_max: Annotated[int, Field(ge=0, le=10)] = 4
    # A requested term outside the product's [term_min, term_max] is not silently moved to the
    # nearest allowed term (a borrower asked for 3 months must not get 6 without being told).
    term_outside_product: Literal["refer", "decline"] = "refer"


class PolicyDocument(BaseModel):
    model_config = _FROZEN
    policy_id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z._-]+$", max_length=32)]
    name_en: Name
    name_zh: Name
    product_id: Text
    products_by_applicant_type: dict[str, str] = Field(default_factory=dict)
    model: ModelRef = ModelRef()
    knockouts: tuple[Knockout, ...] = ()
    rules: tuple[Rule, ...] = ()
    grades: tuple[GradeCut, ...]
    pricing: PricingPolicy
    limits: LimitPolicy
    source_failures: dict[str, Action] = Field(default_factory=dict)  # by source; "default" for the rest
    decision: DecisionRules = DecisionRules()

    @model_validator(mode="after")
    def _grades_cover(self) -> PolicyDocument:
        cuts = [cut.pd_max for cut in self.grades]
        if [cut.grade for cut in self.grades] != list(GRADES[: len(cuts)]) or cuts != sorted(set(cuts)):
            raise ValueError("grades must list A, B, ... in order with strictly increasing pd_max")
        if cuts[-1] != 1:
            raise ValueError("the last grade's pd_max must be 1 (every PD gets a grade)")
        return self


@dataclass(frozen=True)
class Policy:
    """A loaded policy: the document, its hash and its compiled expressions."""

    document: PolicyDocument
    content_hash: str
    source: str
    knockouts: tuple[tuple[Knockout, Expression], ...]
    rules: tuple[tuple[Rule, Expression], ...]
    income: Expression

    @property
    def policy_id(self) -> str:
        return self.document.policy_id

    @property
    def version(self) -> str:
        return self.document.version

    @property
    def key(self) -> str:
        return f"{self.document.policy_id}@{self.document.version}"

    def grade_of(self, pd_units: int) -> str:
        """The first grade whose cut-off (in 1e-8 PD units) is at or above the PD."""
        for cut in self.document.grades:
            if pd_units <= int(cut.pd_max * 10**8):
                return cut.grade
        raise AssertionError("the last grade covers PD 1")

    def source_action(self, source: str) -> str:
        failures = self.document.source_failures
        return failures.get(source, failures.get("default", "refer"))

    def product_for(self, applicant_type: str | None) -> str:
        return self.document.products_by_applicant_type.get(applicant_type or "", self.document.product_id)

    def canonical(self) -> dict[str, Any]:
        return canonical_document(self.document)


# --------------------------------------------------------------------------- loading


def canonical_document(document: PolicyDocument) -> dict[str, Any]:
    dumped: dict[str, Any] = json.loads(json.dumps(document.model_dump(mode="json"), sort_keys=True))
    return dumped


def content_hash(document: PolicyDocument) -> str:
    text = json.dumps(canonical_document(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """A policy from YAML (or, for a .json source, JSON) text; PolicyError with the line on anything wrong.
    Read by `lendstack.documents`: decimals exact, duplicate keys refused, size and depth bounded."""
    return _compile(parse_located(text, PolicyDocument, source=source, error=PolicyError))


def _typed(names: frozenset[str]) -> dict[str, NameType]:
    return {name: NAME_TYPES[name] for name in names}


_KNOCKOUT_TYPES = _typed(KNOCKOUT_NAMES)
_RULE_TYPES = _typed(RULE_NAMES)


def _compile(located: Located[PolicyDocument]) -> Policy:
    """Compile the expressions; an error names the line of the expression (0 for a stored document)."""
    document, source = located.value, located.source

    def expr(text: str, types: dict[str, NameType], loc: tuple[str | int, ...], what: str,
             kind: Literal["bool", "number"]) -> Expression:
        try:
            return compile_expression(text, types=types, result=kind)
        except ExpressionError as exc:
            raise located.error(loc, f"{what}: {exc.message}", PolicyError) from None

    knockouts = tuple(
        (k, expr(k.when, _KNOCKOUT_TYPES, ("knockouts", i, "when"), f"knockout {k.code}", "bool"))
        for i, k in enumerate(document.knockouts)
    )
    rules = tuple((r, expr(r.when, _RULE_TYPES, ("rules", i, "when"), f"rule {r.name}", "bool"))
                  for i, r in enumerate(document.rules))
    income = expr(document.limits.income, _KNOCKOUT_TYPES, ("limits", "income"), "limit income", "number")
    return Policy(document, content_hash(document), source, knockouts, rules, income)


# Parsing a policy's YAML costs ~20 ms, most of an online decision: keep each parsed file (a Policy
# is immutable), keyed by its path, modification time and size, so an edited file is read again.
_FILE_CACHE: dict[tuple[str, int, int], Policy] = {}
_FILE_CACHE_LOCK = threading.Lock()
FILE_CACHE_MAX = 256


def load_policy_file(path: str | Path) -> Policy:
    file = Path(path)
    try:
        stat = file.stat()
        key = (str(file.resolve()), stat.st_mtime_ns, stat.st_size)
        if key in _FILE_CACHE:
            return _FILE_CACHE[key]
    except OSError as exc:
        raise PolicyError(str(file), 0, "policy", f"cannot read: {exc.strerror}") from None
    text = read_text(file, error=PolicyError)  # bounded in size
    policy = parse_policy(text, str(file))
    with _FILE_CACHE_LOCK:
        if len(_FILE_CACHE) >= FILE_CACHE_MAX:
            _FILE_CACHE.pop(next(iter(_FILE_CACHE)))  # the oldest entry
        _FILE_CACHE[key] = policy
    return policy


def list_policies(directory: Path = POLICY_DIR) -> list[Policy]:
    return [load_policy_file(path) for path in sorted(directory.iterdir()) if path.suffix in _SUFFIXES]


def load_policy(name: str | Path) -> Policy:
    """A policy file path, a packaged name ("consumer_v1"), or "policy_id@version"."""
    path = Path(name)
    if path.suffix in _SUFFIXES and path.is_file():
        return load_policy_file(path)
    text = str(name)
    packaged = POLICY_DIR / f"{text}.yaml"
    if packaged.is_file():
        return load_policy_file(packaged)
    for policy in list_policies():
        if text in (policy.key, policy.policy_id):
            return policy
    known = ", ".join(p.key for p in list_policies())
    raise PolicyError(text, 0, "policy", f"unknown policy or version {text!r}; known: {known}")


def policy_from_document(document: dict[str, Any], source: str = "<stored policy>") -> Policy:
    """A policy from its stored canonical JSON (decimals as strings)."""
    validated = validate_document(document, PolicyDocument, source=source, error=PolicyError)
    return _compile(Located(validated, source, None))  # no text, so no lines
