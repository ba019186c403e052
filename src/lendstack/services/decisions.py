"""Decision use cases: decide an application (gather → cross-check → fraud → decide) and persist
the decision, its inputs and an `application.decided` event in ONE unit of work; replay a stored
decision; champion/challenger; the manual review queue; accept an offer (books the loan).
Bad input raises before anything is written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from lendstack.decisioning import Decision, DecisionInputError, Experiment, Policy, ScoringModel, assign, decide
from lendstack.decisioning.policy import load_policy, policy_from_document
from lendstack.decisioning.types import decision_to_dict
from lendstack.errors import ErrorKind, LendstackError
from lendstack.events import DomainEvent
from lendstack.fraud import FraudConfig, FraudContext, MemoryFraudContext, run_fraud_checks
from lendstack.invariants import InvariantError, check
from lendstack.money import Money
from lendstack.origination import (
    Application,
    Connector,
    DataBundle,
    application_document,
    cross_check,
    embedded_connectors,
    features_row,
    gather,
    parse_application,
)
from lendstack.pricing import Exposure, apr_check
from lendstack.products import get_product
from lendstack.services.loans import book_loan
from lendstack.services.naming import new_loan_id
from lendstack.store import Connection, Engine, UnitOfWork
from lendstack.store.api_repo import LoanPartnerRepository
from lendstack.store.decision_repo import DecisionRepository, ReviewItem, StoredDecision
from lendstack.store.origination_repo import ApplicationRepository

ModelLoader = Callable[[str], ScoringModel]
_STATUS = {"approve": "approved", "refer": "referred", "decline": "declined"}


@dataclass(frozen=True)
class Engines:
    """What decides: the champion policy and model, optionally a challenger and the experiment."""

    policy: Policy
    model: ScoringModel
    challenger_policy: Policy | None = None
    challenger_model: ScoringModel | None = None
    experiment: Experiment | None = None
    fraud_config: FraudConfig = field(default_factory=FraudConfig)


@dataclass(frozen=True)
class _StoredFlag:
    code: str
    severity: str
    message_en: str
    message_zh: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class _Failed:
    source: str
    status: str


@dataclass(frozen=True)
class _StoredBundle:
    prints: dict[str, str]
    failures: tuple[_Failed, ...]

    def fingerprints(self) -> dict[str, str]:
        return self.prints

    def failed(self) -> tuple[_Failed, ...]:
        return self.failures


@dataclass(frozen=True)
class _StoredApplication:
    application_id: str
    product_id: str


def resolve_policy(policy: Policy | str | None) -> Policy:
    if isinstance(policy, Policy):
        return policy
    return load_policy(policy or "consumer_v1")


def gather_inputs(application: Application, connectors: Sequence[Connector] | None, fraud_context: FraudContext,
                  config: FraudConfig) -> tuple[DataBundle, list[Any], dict[str, Any]]:
    """The I/O half: data sources, then the pure checks on them."""
    bundle = gather(application, list(connectors) if connectors is not None else embedded_connectors(), timeout_s=0.2)
    flags = [*cross_check(application, bundle), *run_fraud_checks(application, bundle, fraud_context, config)]
    return bundle, flags, features_row(application, bundle)


def _input_record(application: Application, bundle: DataBundle, flags: Sequence[Any], features: dict[str, Any],
                  exposure: Exposure) -> dict[str, Any]:
    return {
        "document": application_document(application), "product_id": application.product_id,
        "features": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in features.items()},
        "flags": [{"code": f.code, "severity": f.severity, "message_en": f.message_en, "message_zh": f.message_zh,
                   "evidence": dict(getattr(f, "evidence", {}) or {})} for f in flags],
        "fingerprints": bundle.fingerprints(),
        "failures": [{"source": s, "status": bundle.snapshots[s].status} for s in bundle.failed()],
        "exposure": vars(exposure),
    }


def _decision_row(decision: Decision, arm: str, acting: bool, inputs: dict[str, Any],
                  application: Application) -> dict[str, Any]:
    policy_id, version = decision.policy_key.split("@", 1)
    document = decision_to_dict(decision)
    exposure = decision.offer.amount_minor if decision.offer is not None and acting else 0
    return {
        "application_id": decision.application_id, "arm": arm, "acting": acting, "outcome": decision.outcome,
        "grade": decision.grade, "pd": repr(decision.pd), "rate_annual": str(decision.rate_annual),
        "limit_minor": decision.limit_minor, "reasons": document["reasons"], "flags": document["flags"],
        "fingerprints": document["fingerprints"], "policy_id": policy_id, "policy_version": version,
        "policy_hash": decision.policy_hash, "model_version": decision.model_version,
        "model_hash": decision.model_hash, "input": inputs, "input_hash": decision.input_hash, "decision": document,
        "applicant_id": application.applicant.applicant_id,
        "household_key": application.applicant.identifiers.address_hash,
        "segment": application.applicant.segment, "exposure_minor": exposure,
    }


@dataclass(frozen=True)
class Prepared:
    """An application with its gathered inputs, ready to decide: everything that needs no database."""

    application: Application
    setup: Engines
    bundle: DataBundle
    flags: list[Any]
    features: dict[str, Any]


def prepare_decision(
    document: dict[str, Any], *, policy: Policy | str | None = None, model: ScoringModel | None = None,
    connectors: Sequence[Connector] | None = None, fraud_context: FraudContext | None = None,
    engines: Engines | None = None, today: date | None = None, partner_scoped: bool = False,
) -> Prepared:
    """Parse (bad input raises here, before anything is written) and gather the data sources.
    Done outside the unit of work: the write lock is never held while a connector is called.
    `partner_scoped`: the document is a partner's, its ids in that partner's own namespace; the book's
    ids for them are chosen under the write lock (`decide_prepared`). Data sources and fraud checks see
    the ids as the partner gave them, as before."""
    application = parse_application(document, today=today)
    if partner_scoped:
        assert application.partner_id, "a partner's document carries its partner id"
        application = replace(application, reference=application.application_id, applicant=replace(
            application.applicant, reference=application.applicant.applicant_id))
    setup = engines or Engines(resolve_policy(policy), model or _default_model())
    context = fraud_context or MemoryFraudContext()
    bundle, flags, features = gather_inputs(application, connectors, context, setup.fraud_config)
    return Prepared(application, setup, bundle, flags, features)


def scoped_to_partner(conn: Connection, application: Application) -> Application:
    """The partner's application with the book's ids for its application and applicant ids: each
    partner has its own namespace, so naming another partner's applicant or application id reaches a
    record of this partner's own (new, or the one it made before), never the other's.

    The applicant's history (exposure by applicant id) is per partner as a result; the household
    exposure (address hash) and the fraud checks on identifiers (phone, device, bank account, address)
    still link the same person across partners, which is what concentration and fraud need."""
    assert application.partner_id, "only a partner's application is scoped"
    application_ref = application.reference or application.application_id
    applicant_ref = application.applicant.reference or application.applicant.applicant_id
    application_id, applicant_id = ApplicationRepository(conn).scoped_ids(
        application.partner_id, application_ref, applicant_ref)
    applicant = replace(application.applicant, applicant_id=applicant_id, reference=applicant_ref)
    return replace(application, application_id=application_id, applicant=applicant, reference=application_ref)


def decide_prepared(uow: UnitOfWork, prepared: Prepared) -> Decision:
    """Decide and persist inside the caller's unit of work (which may write more, e.g. the API's
    idempotency record and audit row, so that all of it commits together); returns the acting decision."""
    application, setup, bundle = prepared.application, prepared.setup, prepared.bundle
    if application.reference:  # a partner's: the book's ids for its references, under the write lock
        application = scoped_to_partner(uow.connection, application)
    repo = DecisionRepository(uow.connection)
    if repo.exists(application.application_id):
        shown = application.reference or application.application_id  # what the caller named it
        raise DecisionInputError("application_id", f"{shown!r} is already decided")
    applicant = application.applicant
    exposure = Exposure(*repo.exposure(applicant.applicant_id, applicant.identifiers.address_hash,
                                       applicant.segment))
    inputs = _input_record(application, bundle, prepared.flags, prepared.features, exposure)
    acting, arm, shadow = _run_arms(setup, application, bundle, prepared.flags, prepared.features, exposure)
    _persist(uow, repo, application, bundle, inputs, acting, arm, shadow, setup)
    return acting


def decide_application(
    engine: Engine, document: dict[str, Any], *, policy: Policy | str | None = None,
    model: ScoringModel | None = None, connectors: Sequence[Connector] | None = None,
    fraud_context: FraudContext | None = None, engines: Engines | None = None, today: date | None = None,
) -> Decision:
    """Decide one application document and persist everything in one unit of work; returns the acting decision."""
    prepared = prepare_decision(document, policy=policy, model=model, connectors=connectors,
                                fraud_context=fraud_context, engines=engines, today=today)
    with UnitOfWork(engine) as uow:
        return decide_prepared(uow, prepared)


def _run_arms(setup: Engines, application: Application, bundle: DataBundle, flags: Sequence[Any],
              features: dict[str, Any], exposure: Exposure) -> tuple[Decision, str, Decision | None]:
    champion = (setup.policy, setup.model)
    challenger = (setup.challenger_policy or setup.policy, setup.challenger_model or setup.model)
    experiment = setup.experiment
    if experiment is None:
        return decide(application, bundle, flags, features, *champion, exposure), "champion", None
    arm = assign(experiment, application.application_id)
    chosen = challenger if arm == "challenger" else champion
    acting = decide(application, bundle, flags, features, *chosen, exposure)
    shadow = None
    if experiment.mode == "shadow":
        shadow = decide(application, bundle, flags, features, *challenger, exposure)
    return acting, arm, shadow


def _persist(uow: UnitOfWork, repo: DecisionRepository, application: Application, bundle: DataBundle,
             inputs: dict[str, Any], acting: Decision, arm: str, shadow: Decision | None, setup: Engines) -> None:
    policies = {p.content_hash: p for p in (setup.policy, setup.challenger_policy or setup.policy)}
    for policy in policies.values():
        repo.save_policy(policy.policy_id, policy.version, policy.content_hash, policy.canonical)
    repo.add(_decision_row(acting, arm, True, inputs, application))
    if shadow is not None:
        repo.add(_decision_row(shadow, "shadow", False, inputs, application))
    if setup.experiment is not None:
        repo.assign(application.application_id, setup.experiment.name, arm, setup.experiment.mode)
    if acting.outcome == "refer":
        repo.enqueue(application.application_id, ", ".join(r.code for r in acting.reasons if r.action == "refer"))
    _origination_status(uow, application, bundle, acting)
    uow.outbox.add(DomainEvent.new("application.decided", "application", application.application_id, {
        "outcome": acting.outcome, "grade": acting.grade, "pd": acting.pd, "rate_annual": str(acting.rate_annual),
        "limit_minor": acting.limit_minor, "policy": acting.policy_key, "model_version": acting.model_version,
        "arm": arm, "input_hash": acting.input_hash}))


def _origination_status(uow: UnitOfWork, application: Application, bundle: DataBundle, decision: Decision) -> None:
    applications = ApplicationRepository(uow.connection)
    current = applications.status_or_none(application.application_id)  # submitted before (e.g. by the console)?
    if current is None:
        applications.add(application)
        current = "received"
    applications.save_snapshots(application.application_id, bundle)
    applications.set_status(application.application_id, decided_status(decision), current=current,
                            reason=",".join(r.code for r in decision.reasons if r.action in ("refer", "decline")))


def decided_status(decision: Decision) -> str:
    """The application's status once `decision` acted on it."""
    return _STATUS[decision.outcome]


def _default_model() -> ScoringModel:
    from lendstack.services.models import scoring_model

    return scoring_model()


# --------------------------------------------------------------------------- replay


@dataclass(frozen=True, slots=True)
class ReplayComparison:
    """A stored decision and the same decision re-run from what was stored (inputs, policy, model).

    `stored` and `replayed` are the decision documents (`decision_to_dict`); they match when equal."""

    application_id: str
    arm: str
    stored: dict[str, Any]
    replayed: dict[str, Any]

    @property
    def matches(self) -> bool:
        return self.stored == self.replayed

    @property
    def differences(self) -> tuple[str, ...]:
        """The top-level fields of the decision document that differ, sorted."""
        return tuple(sorted(k for k in self.stored.keys() | self.replayed.keys()
                            if self.stored.get(k) != self.replayed.get(k)))

    def shown_as(self, application_id: str) -> ReplayComparison:
        """The same comparison under the id its reader knows the application by (a partner's reference)."""
        return replace(self, application_id=application_id,
                       stored={**self.stored, "application_id": application_id},
                       replayed={**self.replayed, "application_id": application_id})

    def to_json(self) -> dict[str, Any]:
        return {"application_id": self.application_id, "arm": self.arm, "matches": self.matches,
                "differences": list(self.differences), "stored": self.stored, "replayed": self.replayed}


def compare_replay(engine: Engine, application_id: str, *, model: ScoringModel | ModelLoader | None = None,
                   arm: str | None = None) -> ReplayComparison:
    """Re-run a stored decision from its stored inputs, policy and model and compare, without raising
    on a difference (the auditor's view: `lendstack decide --replay`, GET .../replay). Unknown
    application: NotFound-kind DecisionInputError; a stored policy or model that does not match its
    hash still raises (nothing to compare against)."""
    stored, decision = _replay(engine, application_id, model=model, arm=arm)
    return ReplayComparison(application_id, stored.arm, stored.decision, decision_to_dict(decision))


def replay_decision(engine: Engine, application_id: str, *, model: ScoringModel | ModelLoader | None = None,
                    arm: str | None = None) -> Decision:
    """Re-run a stored decision from its stored inputs, policy and model; raises InvariantError unless
    it is identical. Always on (not an assert, which `python -O` strips): an auditor relies on it."""
    stored, decision = _replay(engine, application_id, model=model, arm=arm)
    if decision_to_dict(decision) != stored.decision:
        raise InvariantError(f"replay of {application_id} differs from the stored decision")
    return decision


def _replay(engine: Engine, application_id: str, *, model: ScoringModel | ModelLoader | None,
            arm: str | None) -> tuple[StoredDecision, Decision]:
    with UnitOfWork(engine) as uow:
        repo = DecisionRepository(uow.connection)
        stored = repo.get(application_id, arm)
        if stored is None:
            raise DecisionInputError("application_id", f"no decision for {application_id!r}",
                                     kind=ErrorKind.NOT_FOUND)
        found = repo.policy_document(stored.policy_id, stored.policy_version)
    if found is None or found[0] != stored.policy_hash:
        raise InvariantError("the decision's policy version is stored")
    policy = policy_from_document(found[1], f"{stored.policy_id}@{stored.policy_version}")
    check(policy.content_hash == stored.policy_hash, "stored policy document matches its hash")
    scorer = _replay_model(model, stored.model_version)
    if scorer.content_hash != stored.model_hash:
        raise DecisionInputError("model_version", f"model {stored.model_version} does not match the stored hash")
    return stored, _redecide(stored.input, policy, scorer)


def _replay_model(model: ScoringModel | ModelLoader | None, version: str) -> ScoringModel:
    if isinstance(model, ScoringModel):
        return model
    if model is not None:
        return model(version)
    from lendstack.services.models import scoring_model

    return scoring_model(version=version)


def _redecide(inputs: dict[str, Any], policy: Policy, model: ScoringModel) -> Decision:
    document = inputs["document"]
    application = _StoredApplication(document["application_id"], inputs.get("product_id") or "")
    bundle = _StoredBundle(dict(inputs["fingerprints"]), tuple(_Failed(**f) for f in inputs["failures"]))
    flags = [_StoredFlag(**f) for f in inputs["flags"]]
    return decide(application, bundle, flags, inputs["features"], policy, model, Exposure(**inputs["exposure"]))


# --------------------------------------------------------------------------- champion / challenger report


_OUTCOMES = ("approve", "refer", "decline")


@dataclass(frozen=True, slots=True)
class ArmKpis:
    approval_rate: float
    avg_pd: float
    avg_rate_annual: float

    def to_json(self) -> dict[str, float]:
        return {"approval_rate": self.approval_rate, "avg_pd": self.avg_pd, "avg_rate_annual": self.avg_rate_annual}


@dataclass(frozen=True, slots=True)
class ChallengerComparison:
    """Acting vs shadow decisions of the same applications (champion/challenger in shadow mode)."""

    applications: int
    champion: ArmKpis
    challenger: ArmKpis
    disagreement: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # acting outcome → shadow outcome → count

    def to_json(self) -> dict[str, Any]:
        return {"applications": self.applications, "champion": self.champion.to_json(),
                "challenger": self.challenger.to_json(),
                "disagreement": {acting: dict(row) for acting, row in self.disagreement}}


def challenger_comparison(engine: Engine) -> ChallengerComparison:
    """Acting vs shadow decisions of the same applications: approval rates, average PD and rate, disagreement."""
    with UnitOfWork(engine) as uow:
        pairs = DecisionRepository(uow.connection).list_pairs()
    matrix = {a: dict.fromkeys(_OUTCOMES, 0) for a in _OUTCOMES}
    for acting, shadow in pairs:
        matrix[acting["outcome"]][shadow["outcome"]] += 1
    return ChallengerComparison(len(pairs), _arm_kpis([a for a, _ in pairs]), _arm_kpis([s for _, s in pairs]),
                                tuple((a, tuple(row.items())) for a, row in matrix.items()))


def _arm_kpis(documents: list[dict[str, Any]]) -> ArmKpis:
    n = len(documents) or 1
    approved = [d for d in documents if d["outcome"] == "approve"]
    return ArmKpis(len(approved) / n, sum(d["pd"] for d in documents) / n,
                   float(sum(Decimal(d["rate_annual"]) for d in documents) / n))


# --------------------------------------------------------------------------- manual review


class ReviewError(LendstackError):
    """A review action that cannot be taken; `field` names the input (see lendstack.errors)."""


def _review_item(repo: DecisionRepository, application_id: str) -> ReviewItem:
    item = repo.review(application_id)
    if item is None:
        raise ReviewError("application_id", f"{application_id!r} is not in the review queue", kind=ErrorKind.NOT_FOUND)
    if item.status == "done":
        raise ReviewError("status", f"{application_id!r} was already reviewed ({item.action})", kind=ErrorKind.CONFLICT)
    return item


def list_reviews(engine: Engine, status: str | None = None) -> list[ReviewItem]:
    with UnitOfWork(engine) as uow:
        return DecisionRepository(uow.connection).reviews(status)


def assign_review(engine: Engine, application_id: str, assignee: str, *, by: str) -> ReviewItem:
    if not assignee:
        raise ReviewError("assignee", "must not be empty")
    with UnitOfWork(engine) as uow:
        repo = DecisionRepository(uow.connection)
        item = _review_item(repo, application_id)
        repo.update_review(item, {"by": by, "event": "assigned", "assignee": assignee}, status="assigned",
                           assignee=assignee)
        found = repo.review(application_id)
    assert found is not None
    return found


def resolve_review(engine: Engine, application_id: str, action: str, *, by: str, note: str,
                   counter_offer: dict[str, Any] | None = None) -> ReviewItem:
    """approve | decline | counter_offer (with amount_minor, term, rate_annual), with a note; recorded with who/when."""
    if action not in ("approve", "decline", "counter_offer"):
        raise ReviewError("action", f"must be approve, decline or counter_offer, got {action!r}")
    if not note.strip():
        raise ReviewError("note", "a review action needs a note")
    with UnitOfWork(engine) as uow:
        repo = DecisionRepository(uow.connection)
        item = _review_item(repo, application_id)
        stored = repo.get(application_id)
        assert stored is not None, "a queued application has a decision"
        offer = _review_offer(stored.decision, stored.input, action, counter_offer)
        repo.update_review(item, {"by": by, "event": action, "note": note, "offer": offer}, status="done",
                           action=action, note=note, counter_offer=offer)
        status = {"approve": "approved", "decline": "declined", "counter_offer": "offered"}[action]
        ApplicationRepository(uow.connection).set_status(application_id, status, reason=f"review by {by}: {note}")
        uow.outbox.add(DomainEvent.new("application.reviewed", "application", application_id,
                                       {"action": action, "by": by, "note": note, "offer": offer}))
        found = repo.review(application_id)
    assert found is not None
    return found


def _review_offer(decision: dict[str, Any], inputs: dict[str, Any], action: str,
                  counter: dict[str, Any] | None) -> dict[str, Any] | None:
    if action == "decline":
        return None
    product = get_product(decision["product_id"])
    features = inputs["features"]
    if action == "approve":
        amount = min(decision["limit_minor"], int(features["requested_amount_minor"]))
        term = min(max(int(features["requested_term_months"]), product.term_min), product.term_max)
        rate = decision["rate_annual"]
    else:
        if not counter:
            raise ReviewError("counter_offer", "needs amount_minor, term and rate_annual")
        wanted_amount, wanted_term, rate = counter.get("amount_minor"), counter.get("term"), counter.get("rate_annual")
        if not isinstance(wanted_amount, int) or not isinstance(wanted_term, int) or rate is None:
            raise ReviewError("counter_offer", "needs integer amount_minor and term and a rate_annual string")
        amount, term = wanted_amount, wanted_term
    summary = apr_check(product, amount, term, Decimal(str(rate)), date.fromisoformat(str(features["applied_on"])))
    return {"product_id": product.product_id, "amount_minor": amount, "currency": product.currency, "term": term,
            "rate_annual": str(rate), "apr": str(summary.apr)}


# --------------------------------------------------------------------------- accepting an offer


def accept_offer(engine: Engine, application_id: str, on: date | None, key: str, *,
                 named: str = "", new_id: Callable[[], str] = new_loan_id) -> dict[str, Any]:
    """Book the loan of an approved decision's offer (or a reviewer's approval / counter-offer).
    `named`: the id the caller knows the application by, for its error messages (a partner's reference).
    `new_id`: makes the loan's id when the application has none yet (random; the demo's is seeded)."""
    shown = named or application_id
    with UnitOfWork(engine) as uow:
        repo = DecisionRepository(uow.connection)
        stored = repo.get(application_id)
        review = repo.review(application_id)
    if stored is None:
        raise DecisionInputError("application_id", f"no decision for {shown!r}")
    offer = stored.decision["offer"] if stored.outcome == "approve" else (review.counter_offer if review else None)
    if offer is None:
        raise DecisionInputError("application_id", f"{shown!r} has no offer to accept ({stored.outcome})")
    with UnitOfWork(engine) as uow:  # committed before booking: a second accept books the same loan id
        loan_id = ApplicationRepository(uow.connection).claim_loan_id(application_id, new_id())
    booked = book_loan(engine, loan_id=loan_id, product=offer["product_id"],
                       amount=Money(int(offer["amount_minor"]), offer["currency"]), term=int(offer["term"]), on=on,
                       key=key, rate_annual=Decimal(offer["rate_annual"]))
    with UnitOfWork(engine) as uow:
        applications = ApplicationRepository(uow.connection)
        if applications.status_of(application_id) != "booked":
            applications.set_status(application_id, "booked", reason=f"loan {loan_id}")
        _own_loan(uow, application_id, loan_id)
    return booked


def _own_loan(uow: UnitOfWork, application_id: str, loan_id: str) -> None:
    """The partner that brought the application owns its loan (a partner sees only its own loans),
    whoever accepted the offer: the partner's API, a staff member in the console, or the demo."""
    partner_id = ApplicationRepository(uow.connection).partner_of(application_id)
    if partner_id:
        LoanPartnerRepository(uow.connection).own(loan_id, partner_id)
