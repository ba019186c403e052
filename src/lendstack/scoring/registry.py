"""Model artifacts and the model registry.

An artifact is a directory: `model.joblib` (the pickled `CreditModel`; a LightGBM booster inside
is pickled as LightGBM's own model text), `booster.txt` for the GBM (the same text, readable),
`spec.json` (the FeatureSpec), `report.html` if given, and `manifest.json`: kind, version,
sha256 of every file (`content_sha256` is the model file's), training-data fingerprint, features,
params, metrics, created_at. Loading verifies every hash: a tampered artifact does not load.

Writes are atomic: the artifact is written to a temporary directory beside its destination and
renamed into place, so a failed training leaves nothing behind. The registry is a directory of
such artifacts under `versions/`, with a `champion.json` pointer (also replaced atomically)
that keeps the promotion history for `rollback`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]

from lendstack.scoring.credit_model import CreditModel
from lendstack.scoring.errors import ArtifactError

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
CHAMPION_FILE = "champion.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json_atomic(path: Path, document: Any) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=2, default=str)
    os.replace(temp, path)


# The report is text, or a function of the model's identity (version, content_sha256) that renders it
# once the model file is written, so the report can name the hash of the model it describes.
Report = str | Callable[[dict[str, str]], str] | None


def _write_files(credit: CreditModel, folder: Path, version: str, report_html: Report) -> dict[str, Any]:
    joblib.dump(credit, folder / MODEL_FILE)
    if credit.kind == "gbm":
        (folder / "booster.txt").write_text(credit.base.booster_.model_to_string(), encoding="utf-8")
    (folder / "spec.json").write_text(json.dumps(credit.spec.to_dict(), ensure_ascii=False, indent=2), "utf-8")
    if report_html is not None:
        identity = {"version": version, "content_sha256": _sha256(folder / MODEL_FILE)}
        page = report_html(identity) if callable(report_html) else report_html
        (folder / "report.html").write_text(page, encoding="utf-8")
    files = {path.name: _sha256(path) for path in sorted(folder.iterdir())}
    manifest = {
        "version": version,
        "kind": credit.kind,
        "target": credit.target,
        "bad_value": credit.bad_value,
        "content_sha256": files[MODEL_FILE],
        "files_sha256": files,
        "data_fingerprint": credit.data_fingerprint,
        "features": credit.spec.names,
        "feature_spec_version": f"{credit.spec.name}/{credit.spec.version}",
        "params": credit.params,
        "explain_sample_rows": 0 if credit.explain_sample is None else credit.explain_sample.height,
        "metrics": {k: v for k, v in credit.metrics.items() if not isinstance(v, list | dict)},
        "audit": credit.audit,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write_json_atomic(folder / MANIFEST_FILE, manifest)
    return manifest


def save_artifact(
    credit: CreditModel, destination: str | Path, *, version: str = "", report_html: Report = None
) -> dict[str, Any]:
    """Write the artifact to `destination` atomically (replacing an earlier artifact there)."""
    target = Path(destination)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and any(target.iterdir()) and not (target / MANIFEST_FILE).exists():
        raise ArtifactError(f"{target}: exists and is not a model artifact; refusing to overwrite it")
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        manifest = _write_files(credit, staging, version or target.name, report_html)
        if target.exists():
            retired = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.replace(target, retired / "artifact")
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return manifest


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise ArtifactError(f"{folder}: not a model artifact (no {MANIFEST_FILE})")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def load_artifact(folder: str | Path) -> CreditModel:
    """Load an artifact after checking every file's sha256 against its manifest."""
    root = Path(folder)
    manifest = read_manifest(root)
    for name, expected in manifest["files_sha256"].items():
        path = root / name
        if not path.is_file():
            raise ArtifactError(f"{root}: {name} is missing")
        if _sha256(path) != expected:
            raise ArtifactError(f"{root}: {name} does not match its recorded sha256 (tampered or corrupt)")
    credit = joblib.load(root / MODEL_FILE)
    if not isinstance(credit, CreditModel):
        raise ArtifactError(f"{root}: {MODEL_FILE} holds a {type(credit).__name__}, not a CreditModel")
    return credit


class Registry:
    """Versioned artifacts under `root/versions/vNNNN`, a champion pointer, promote and rollback."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def save(self, credit: CreditModel, report_html: Report = None) -> str:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(100):  # another writer may take the same number: retry with the next
            version = f"v{self._next_number():04d}"
            staging = Path(tempfile.mkdtemp(dir=self.versions_dir, prefix=f".{version}.tmp-"))
            try:
                _write_files(credit, staging, version, report_html)
                try:
                    staging.rename(self.versions_dir / version)  # fails if the version exists
                except OSError:
                    continue
                return version
            finally:
                if staging.exists():
                    shutil.rmtree(staging, ignore_errors=True)
        raise ArtifactError(f"{self.root}: could not allocate a version number")

    def _next_number(self) -> int:
        numbers = [int(path.name[1:]) for path in self.versions_dir.glob("v[0-9]*") if path.name[1:].isdigit()]
        return max(numbers, default=0) + 1

    def path(self, version: str) -> Path:
        folder = self.versions_dir / version
        if not folder.is_dir():
            raise ArtifactError(f"version {version!r} not found in {self.root}")
        return folder

    def load(self, version: str | None = None) -> CreditModel:
        """A version, or the champion when no version is given."""
        chosen = version or self.champion()
        if chosen is None:
            raise ArtifactError(f"{self.root}: no champion yet; give a version")
        return load_artifact(self.path(chosen))

    def list(self) -> list[dict[str, Any]]:
        champion = self.champion()
        rows = []
        for folder in sorted(self.versions_dir.glob("v[0-9]*")):
            manifest = read_manifest(folder)
            manifest["champion"] = folder.name == champion
            rows.append(manifest)
        return rows

    def _pointer(self) -> dict[str, Any]:
        path = self.root / CHAMPION_FILE
        if not path.is_file():
            return {"champion": None, "history": []}
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return document

    def champion(self) -> str | None:
        value = self._pointer()["champion"]
        return None if value is None else str(value)

    def promote(self, version: str) -> None:
        self.path(version)  # must exist
        pointer = self._pointer()
        history = [*pointer["history"], version]
        _write_json_atomic(self.root / CHAMPION_FILE, {"champion": version, "history": history})

    def rollback(self) -> str:
        """Make the previous champion the champion again; returns it."""
        history = list(self._pointer()["history"])
        if len(history) < 2:
            raise ArtifactError(f"{self.root}: nothing to roll back to")
        history.pop()
        _write_json_atomic(self.root / CHAMPION_FILE, {"champion": history[-1], "history": history})
        return str(history[-1])
