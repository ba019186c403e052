"""The catalog pages: loan products (terms, rates, fees, limits), decision policies (versions,
knockouts, rules, grades, pricing and limits) and the credit-model registry (versions, champion,
metrics, data fingerprint) with promote / roll back for admin and risk manager.

Products and policies are versioned files, read-only here. A promotion changes the registry's
champion pointer: the guard has checked the role and the CSRF token and writes the audit row
(who, when, from where); this module adds a domain event (what changed, from which champion, why)
and verifies every file of the artifact first, so a tampered model never becomes champion."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from lendstack.api.common import engine_of
from lendstack.decisioning import list_policies
from lendstack.decisioning.policy import POLICY_DIR, Policy
from lendstack.products import LoanProduct, load_catalog
from lendstack.scoring import ArtifactError, Registry, load_artifact
from lendstack.services.decisions import resolve_policy
from lendstack.services.models import ModelChangeError, promote_model, rollback_model
from lendstack.web.auth import current_user
from lendstack.web.render import render
from lendstack.web.routes_dashboard import script_json

router = APIRouter(include_in_schema=False)
VERSION_PATTERN = r"^v[0-9]{1,8}$"  # the registry's names; also keeps every path inside the registry
REASON_LENGTH_MAX = 500
POLICY_ID_LENGTH_MAX = 64
HEADLINE_METRICS = ("auc", "ks", "ece", "gini", "brier", "rows", "bad_rate")


def rate_pct(rate: Decimal) -> str:
    """0.144 → '14.4%', exact (rates are Decimals with at most 6 places)."""
    text = format((rate * 100).normalize(), "f")
    return f"{text}%"


# --------------------------------------------------------------------------- products


@router.get("/console/products")
def products_page(request: Request) -> Response:
    catalog = load_catalog()
    return render(request, "catalog/products.html", {"products": [_product_view(p) for p in catalog.values()]})


def _product_view(product: LoanProduct) -> dict[str, Any]:
    fees = product.fees
    return {
        "product": product, "rate": rate_pct(product.rate_annual),
        "rate_band": f"{rate_pct(product.rate_min_annual)} – {rate_pct(product.rate_max_annual)}",
        "apr_cap": rate_pct(product.rate_cap_apr), "upfront_rate": rate_pct(fees.upfront_rate),
        "periodic_rate": rate_pct(fees.periodic_rate), "prepayment_rate": rate_pct(fees.prepayment_rate),
        "allocation": [c.value for c in product.allocation_order],
    }


# --------------------------------------------------------------------------- policies


# Policies are files: parsed again only when a file in the folder changes (name, size or mtime).
_POLICY_CACHE: dict[tuple[tuple[str, int, int], ...], tuple[dict[str, list[Policy]], str]] = {}


def _policies() -> tuple[dict[str, list[Policy]], str]:
    """Every policy by id (versions in order) and the key of the default policy."""
    stamp = tuple(sorted((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in POLICY_DIR.iterdir()))
    found = _POLICY_CACHE.get(stamp)
    if found is None:
        grouped: dict[str, list[Policy]] = {}
        for policy in list_policies():
            grouped.setdefault(policy.policy_id, []).append(policy)
        for versions in grouped.values():
            versions.sort(key=lambda p: (len(p.version), p.version))  # "2" before "10"
        found = (dict(sorted(grouped.items())), resolve_policy(None).key)  # what decides when none is named
        _POLICY_CACHE.clear()
        _POLICY_CACHE[stamp] = found
    return found


@router.get("/console/policies")
def policies_page(request: Request) -> Response:
    grouped, default_key = _policies()
    return render(request, "catalog/policies.html", {"policies": grouped, "default_key": default_key})


@router.get("/console/policies/{policy_id}")
def policy_page(request: Request, policy_id: str) -> Response:
    grouped, default_key = _policies()
    versions = grouped.get(policy_id[:POLICY_ID_LENGTH_MAX])
    if not versions:
        return render(request, "error.html", {"status": 404, "detail_key": "catalog.policy_not_found"},
                      status_code=404)
    return render(request, "catalog/policy.html", {
        "policy_id": policy_id, "versions": versions, "default_key": default_key,
        "sections": {p.version: _sections(p) for p in versions},
    })


def _sections(policy: Policy) -> dict[str, str]:
    """Pricing, limits and decision settings as indented JSON (the canonical document's parts)."""
    canonical = policy.canonical()
    return {name: json.dumps(canonical.get(name), ensure_ascii=False, indent=2)
            for name in ("pricing", "limits", "decision", "source_failures")}


# --------------------------------------------------------------------------- models


def _registry(request: Request) -> Registry:
    root = request.app.state.registry_dir
    assert isinstance(root, Path)
    return Registry(root)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _model_rows(registry: Registry) -> list[dict[str, Any]]:
    champion = registry.champion()
    return [{"version": m["version"], "kind": m.get("kind", ""), "champion": m["version"] == champion,
             "created_at": m.get("created_at", ""), "data_fingerprint": m.get("data_fingerprint", ""),
             "metrics": {k: _finite(v) for k, v in dict(m.get("metrics", {})).items()}}
            for m in registry.list()]


def _models_response(request: Request, *, error_key: str = "", error_detail: str = "",
                     status_code: int = 200) -> Response:
    registry = _registry(request)
    try:
        rows = _model_rows(registry)
    except ArtifactError as exc:  # a half-copied folder in versions/: say so instead of a bare 500
        rows, error_key, error_detail, status_code = [], "models.error_corrupt", str(exc), 500
    return render(request, "catalog/models.html", {
        "models": rows, "champion": registry.champion(), "headline": HEADLINE_METRICS,
        "error_key": error_key, "error_detail": error_detail,
    }, status_code=status_code)


@router.get("/console/models")
def models_page(request: Request) -> Response:
    return _models_response(request)


@router.get("/console/models/{version}")
def model_page(request: Request, version: str) -> Response:
    registry = _registry(request)
    manifest = _manifest(registry, version)
    if manifest is None:
        return render(request, "error.html", {"status": 404, "detail_key": "models.not_found"}, status_code=404)
    evaluation, load_error = _evaluation(registry, version)
    return render(request, "catalog/model.html", {
        "m": manifest, "champion": registry.champion() == version,
        "metrics": {k: _finite(v) for k, v in dict(manifest.get("metrics", {})).items()},
        "params_json": json.dumps(manifest.get("params", {}), ensure_ascii=False, indent=2, default=str),
        "evaluation": evaluation, "load_error": load_error,
        "model_json": script_json({"roc": evaluation.get("roc") if evaluation else None}),
    })


def _manifest(registry: Registry, version: str) -> dict[str, Any] | None:
    if not re.fullmatch(VERSION_PATTERN, version):
        return None
    try:
        return next((m for m in registry.list() if m["version"] == version), None)
    except ArtifactError:
        return None


def _evaluation(registry: Registry, version: str) -> tuple[dict[str, Any] | None, str]:
    """The held-out evaluation kept in the model (ROC, calibration, score bands); the artifact's
    hashes are verified on load, so a tampered artifact shows its error instead."""
    try:
        credit = load_artifact(registry.path(version))
    except ArtifactError as exc:
        return None, str(exc)
    metrics = credit.metrics
    return {"roc": metrics.get("roc"), "calibration": metrics.get("calibration", []),
            "score_bands": metrics.get("score_bands", [])}, ""


Reason = Annotated[str, Form(max_length=REASON_LENGTH_MAX)]


_ERROR_STATUS = {"not_found": ("models.not_found", 404), "conflict": ("models.error_already", 409),
                 "invalid": ("models.error_tampered", 422)}


@router.post("/console/models/{version}/promote")
def promote(request: Request, version: str, reason: Reason = "") -> Response:
    try:
        promote_model(engine_of(request), _registry(request).root, version, actor=_actor(request), reason=reason)
    except ModelChangeError as exc:
        key, status = _ERROR_STATUS[exc.kind]
        return _models_response(request, error_key=key, error_detail=str(exc) if exc.kind == "invalid" else version,
                                status_code=status)
    return RedirectResponse("/console/models?flash=model_promoted", status_code=303)


@router.post("/console/models/rollback")
def rollback(request: Request, reason: Reason = "") -> Response:
    try:
        rollback_model(engine_of(request), _registry(request).root, actor=_actor(request), reason=reason)
    except ModelChangeError:
        return _models_response(request, error_key="models.error_no_rollback", status_code=409)
    return RedirectResponse("/console/models?flash=model_rolled_back", status_code=303)


def _actor(request: Request) -> dict[str, str]:
    user = current_user(request)
    return {"actor": user.actor, "role": user.role, "via": "console"}
