"""Decision policies (read-only: they are versioned files a risk officer reviews) and the credit-model
registry: versions with metrics and the champion; promote and roll back (admin, risk manager), each
idempotent by Idempotency-Key and recorded twice: the API audit row (who called) and a domain event
in the outbox (what changed, from which champion to which, and why)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from lendstack.api.common import PageDep
from lendstack.api.idempotency import IdempotencyKey, replayable
from lendstack.api.keys import Principal
from lendstack.api.problems import Problem
from lendstack.api.security import principal_of
from lendstack.decisioning import list_policies
from lendstack.decisioning.policy import Policy
from lendstack.scoring import ArtifactError, Registry
from lendstack.services.decisions import resolve_policy
from lendstack.services.models import ModelChangeError, promote_model, rollback_model

router = APIRouter(prefix="/v1")
VERSION_PATTERN = r"^v[0-9]{1,8}$"  # the registry's own names; also keeps paths inside the registry
ModelVersion = Annotated[str, Path(pattern=VERSION_PATTERN, description="a registry version, e.g. v0001")]
ModelKind = Literal["scorecard", "gbm"]
REASON_LENGTH_MAX = 500


# --- policies --------------------------------------------------------------------------------------


def _version_view(policy: Policy, default_key: str, *, document: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"version": policy.version, "key": policy.key, "hash": policy.content_hash,
                            "product_id": policy.document.product_id, "model": policy.document.model.model_dump(),
                            "default": policy.key == default_key}
    if document:
        view["document"] = policy.canonical()
    return view


def _policies_by_id() -> dict[str, list[Policy]]:
    grouped: dict[str, list[Policy]] = {}
    for policy in list_policies():
        grouped.setdefault(policy.policy_id, []).append(policy)
    for versions in grouped.values():
        versions.sort(key=lambda p: (len(p.version), p.version))  # "2" before "10"
    return grouped


def _policy_view(versions: list[Policy], *, document: bool) -> dict[str, Any]:
    assert versions, "a policy id exists only through its versions"
    default_key = resolve_policy(None).key  # what decides when a caller names no policy
    latest = versions[-1]
    return {"policy_id": latest.policy_id, "name_en": latest.document.name_en, "name_zh": latest.document.name_zh,
            "versions": [_version_view(p, default_key, document=document) for p in versions]}


@router.get("/policies", tags=["policies"])
def policies(page: PageDep, product_id: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """Every decision policy with its versions (content hash, product, model reference, which is the default)."""
    grouped = sorted(_policies_by_id().items())
    if product_id is not None:
        grouped = [(k, v) for k, v in grouped if any(p.document.product_id == product_id for p in v)]
    chosen = grouped[page.offset : page.offset + page.limit + 1]
    return page.wrap([_policy_view(versions, document=False) for _, versions in chosen])


@router.get("/policies/{policy_id}", tags=["policies"])
def policy(policy_id: Annotated[str, Path(max_length=64)],
           version: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, Any]:
    """One policy: each version's canonical document (or only `version`'s)."""
    versions = _policies_by_id().get(policy_id)
    if not versions:
        raise Problem(404, "not-found", f"no policy {policy_id!r}", field="policy_id")
    if version is not None:
        versions = [p for p in versions if p.version == version]
        if not versions:
            raise Problem(404, "not-found", f"policy {policy_id!r} has no version {version!r}", field="version")
    return _policy_view(versions, document=True)


# --- models ----------------------------------------------------------------------------------------


def _registry(request: Request) -> Registry:
    root = request.app.state.registry_dir
    assert isinstance(root, FsPath)
    return Registry(root)


def _finite(value: Any) -> Any:
    # JSON has no NaN or Infinity: a metric that could not be computed is null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _model_view(manifest: dict[str, Any], champion: str | None) -> dict[str, Any]:
    return {"version": manifest["version"], "champion": manifest["version"] == champion,
            "kind": manifest.get("kind"), "target": manifest.get("target"),
            "content_sha256": manifest.get("content_sha256"), "data_fingerprint": manifest.get("data_fingerprint"),
            "feature_spec_version": manifest.get("feature_spec_version"), "features": manifest.get("features", []),
            "metrics": {k: _finite(v) for k, v in dict(manifest.get("metrics", {})).items()},
            "created_at": manifest.get("created_at")}


def _manifests(registry: Registry) -> list[dict[str, Any]]:
    try:
        return registry.list()
    except ArtifactError as exc:  # a half-copied folder in versions/: say so instead of a bare 500
        raise Problem(500, "registry-corrupt", str(exc)) from exc


@router.get("/models", tags=["models"])
def models(request: Request, page: PageDep, kind: Annotated[ModelKind | None, Query()] = None,
           champion: Annotated[bool | None, Query()] = None) -> dict[str, Any]:
    """Registry versions, oldest first, with their metrics; `champion` marks the one decisions use."""
    registry = _registry(request)
    current = registry.champion()
    items = [_model_view(m, current) for m in _manifests(registry)]
    if kind is not None:
        items = [m for m in items if m["kind"] == kind]
    if champion is not None:
        items = [m for m in items if m["champion"] is champion]
    wrapped = page.wrap(items[page.offset : page.offset + page.limit + 1])
    return {**wrapped, "champion": current}


@router.get("/models/{version}", tags=["models"])
def model(request: Request, version: ModelVersion) -> dict[str, Any]:
    registry = _registry(request)
    try:
        manifest = next(m for m in _manifests(registry) if m["version"] == version)
    except StopIteration:
        raise Problem(404, "not-found", f"no model version {version!r}", field="version") from None
    return {**_model_view(manifest, registry.champion()), "params": manifest.get("params", {}),
            "files_sha256": manifest.get("files_sha256", {})}


class ChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=REASON_LENGTH_MAX, description="why; kept with the event")


_STATUS = {"not_found": (404, "not-found"), "conflict": (409, "state-conflict"), "invalid": (422, "invalid")}


def _actor(principal: Principal) -> dict[str, str]:
    return {"key_id": principal.key_id, "role": principal.role, "via": "api"}


def _changed(change: Callable[[], dict[str, Any]]) -> tuple[int, Any]:
    try:
        return 200, change()
    except ModelChangeError as exc:
        status, kind = _STATUS[exc.kind]
        raise Problem(status, kind, str(exc), field=exc.field) from exc


def _promote(request: Request, principal: Principal, version: str, reason: str) -> tuple[int, Any]:
    return _changed(lambda: promote_model(request.app.state.engine, request.app.state.registry_dir, version,
                                          actor=_actor(principal), reason=reason).to_json())


def _rollback(request: Request, principal: Principal, reason: str) -> tuple[int, Any]:
    return _changed(lambda: rollback_model(request.app.state.engine, request.app.state.registry_dir,
                                           actor=_actor(principal), reason=reason).to_json())


@router.post("/models/{version}/promote", tags=["models"])
def promote(request: Request, version: ModelVersion, key: Annotated[str, IdempotencyKey],
            body: Annotated[ChangeRequest | None, Body()] = None) -> JSONResponse:
    """Make a verified registry version the champion: every later decision uses it."""
    principal, change = principal_of(request), body or ChangeRequest()
    return replayable(request.app.state.engine, principal, key, "POST", request.url.path,
                      change.model_dump(mode="json"), lambda: _promote(request, principal, version, change.reason))


@router.post("/models/rollback", tags=["models"])
def rollback(request: Request, key: Annotated[str, IdempotencyKey],
             body: Annotated[ChangeRequest | None, Body()] = None) -> JSONResponse:
    """Make the previous champion the champion again."""
    principal, change = principal_of(request), body or ChangeRequest()
    return replayable(request.app.state.engine, principal, key, "POST", request.url.path,
                      change.model_dump(mode="json"), lambda: _rollback(request, principal, change.reason))
