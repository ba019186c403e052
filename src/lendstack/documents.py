"""One loader for every configuration document: products, policies, indicators, collections strategies,
stress scenarios.

`load_document(path, Model)` reads a YAML (or, by its suffix, JSON) file and validates it with a
pydantic model; `parse_document(text, Model, source=...)` does the same for text. Every document is
read the same way:

- Safe YAML only (no Python objects), with a size limit in bytes (`DOCUMENT_BYTES_MAX`), a nesting
  limit (`DEPTH_MAX`) and a node limit (`NODES_MAX`: aliases are counted each time they are used,
  so a "billion laughs" document is refused before it is expanded).
- Numbers with a fraction are `Decimal`, exact from their source text (`0.1` is 0.1, not
  0.1000000000000000055...): no float ever holds a rate. A model field typed `float` still gets the
  same float that parsing the text as a float would give (Decimal → float rounds correctly).
- A key written twice in one mapping is refused (YAML would silently keep the last one).
- Every error is a `DocumentError` naming the file, the line (1-based; 0 when unknown), the column
  and the dotted field (`stages.1.dpd_from`), so a caller can catch one type for any bad config
  file. Each area's error (`PolicyError`, `ProductFileError`, ...) subclasses it.

Model validators name a field below the model they validate by starting their message with
`@dotted.path: ` (relative to the model), or by raising a `LendstackError` whose field is the path.

This module imports yaml, pydantic and lendstack.errors only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lendstack.errors import ErrorKind, LendstackError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]

DOCUMENT_BYTES_MAX = 1024 * 1024  # the largest packaged document is a few kB
DEPTH_MAX = 32  # nesting of mappings and sequences; the deepest packaged document has 6
NODES_MAX = 100_000  # scalars, mappings and sequences, aliases counted at every use
ERRORS_SHOWN_MAX = 5  # validation problems listed in one message, the first one named as the field
JSON_SUFFIXES = (".json",)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class DocumentError(LendstackError):
    """A configuration document that cannot be read or is invalid: the file (`source`), the line (0 if
    unknown), the column (0 if unknown), the dotted field (`location`) and the `reason`.

    `field` and `message` (what the shells show) are the dotted field and the reason, unless a
    subclass keeps its area's older presentation (the place in the field, or in the message).
    Subclasses set `path_field` (the field a file that cannot be read is reported under) and `shape`
    (the reason when the document is not a mapping)."""

    path_field: ClassVar[str] = "path"
    shape: ClassVar[str] = "the document is a mapping of fields"

    def __init__(self, source: str, line: int, field: str, message: str, *, column: int = 0,
                 kind: ErrorKind | None = None) -> None:
        self.source, self.line, self.column, self.location, self.reason = str(source), line, column, field, message
        super().__init__(field, message, kind=kind)

    @property
    def where(self) -> str:
        """`file:line`, or the file alone when the line is unknown."""
        return f"{self.source}:{self.line}" if self.line else self.source

    def __str__(self) -> str:
        return f"{self.where}: {self.location}: {self.reason}"


class PlacedFieldError(DocumentError):
    """A DocumentError whose `field` is `file:line: dotted.field`: how the indicator and strategy errors
    always named it (their shells show only the field and the message)."""

    def __init__(self, source: str, line: int, field: str, message: str, *, column: int = 0,
                 kind: ErrorKind | None = None) -> None:
        super().__init__(source, line, field, message, column=column, kind=kind)
        self.field = f"{self.where}: {field}"


E = TypeVar("E", bound=DocumentError)


@dataclass(frozen=True, slots=True)
class Located(Generic[M]):
    """A validated document with its YAML node tree, to name the line of a later error (for example an
    expression that does not compile)."""

    value: M
    source: str
    root: yaml.Node | None

    def error(self, loc: Loc, message: str, error: type[E]) -> E:
        """An `error` at the dotted location `loc`, with the line and column of its deepest node."""
        node = node_at(self.root, loc)
        line, column = _position(node)
        return error(self.source, line, dotted_location(loc), message, column=column)


# --------------------------------------------------------------------------- entry points


def load_document(path: str | Path, model: type[M], *, error: type[DocumentError] = DocumentError) -> M:
    """A file validated as `model`; raises `error` (a DocumentError) naming the file, line and field."""
    return load_located(path, model, error=error).value


def parse_document(text: str, model: type[M], *, source: str = "<document>",
                   error: type[DocumentError] = DocumentError) -> M:
    """Text validated as `model`; JSON when `source` ends in .json, YAML otherwise."""
    return parse_located(text, model, source=source, error=error).value


def load_located(path: str | Path, model: type[M], *, error: type[DocumentError] = DocumentError) -> Located[M]:
    file = Path(path)
    return parse_located(read_text(file, error=error), model, source=str(file), error=error)


def parse_located(text: str, model: type[M], *, source: str = "<document>",
                  error: type[DocumentError] = DocumentError) -> Located[M]:
    """`parse_document`, keeping the node tree for the caller's own checks (`Located.error`)."""
    data, root = _parse(text, source, error)
    return Located(validate_document(data, model, source=source, error=error, root=root), source, root)


def load_mapping(path: str | Path, *, error: type[DocumentError] = DocumentError) -> dict[str, Any]:
    """A file's top-level mapping, read as every document is (safe, exact decimals, no duplicate keys,
    bounded) but not validated: for settings a dataclass validates itself."""
    file = Path(path)
    data, root = _parse(read_text(file, error=error), str(file), error)
    if not isinstance(data, dict):
        raise error(str(file), 1 if root is not None else 0, "document", error.shape)
    return data


def validate_document(data: Any, model: type[M], *, source: str = "<document>",
                      error: type[DocumentError] = DocumentError, root: yaml.Node | None = None) -> M:
    """Already parsed data (a mapping) validated as `model`; `root`, when given, locates the lines."""
    if not isinstance(data, dict):
        raise error(source, 1 if root is not None else 0, "document", error.shape)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, source, root, error) from None


def read_text(file: Path, *, error: type[DocumentError] = DocumentError) -> str:
    """A document's text (UTF-8), refusing a file larger than DOCUMENT_BYTES_MAX before reading it all."""
    try:
        with file.open("rb") as handle:
            raw = handle.read(DOCUMENT_BYTES_MAX + 1)
    except OSError as exc:
        raise error(str(file), 0, error.path_field, f"cannot read: {exc.strerror}") from None
    if len(raw) > DOCUMENT_BYTES_MAX:
        raise error(str(file), 0, "document", f"larger than {DOCUMENT_BYTES_MAX} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(str(file), 0, "document", f"not UTF-8 text: {exc.reason}") from None


def _parse(text: str, source: str, error: type[DocumentError]) -> tuple[Any, yaml.Node | None]:
    """The data and the YAML node tree (None for an empty document) of YAML, or JSON by the suffix."""
    if len(text.encode("utf-8")) > DOCUMENT_BYTES_MAX:
        raise error(source, 0, "document", f"larger than {DOCUMENT_BYTES_MAX} bytes")
    if source.endswith(JSON_SUFFIXES):
        return _parse_json(text, source, error), _json_nodes(text)
    return _parse_yaml(text, source, error)


# --------------------------------------------------------------------------- YAML


class DocumentLoader(yaml.SafeLoader):
    """SafeLoader that reads YAML floats as Decimal from their source text."""


_NON_FINITE = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    # .inf / .nan become non-finite Decimals: Decimal fields refuse them by name, float fields get the
    # float YAML would have given.
    try:
        return Decimal(_NON_FINITE.get(text.lower(), text))
    except InvalidOperation:  # YAML 1.1 sexagesimal floats (1:30.5): nobody means them in a config
        raise yaml.constructor.ConstructorError(None, None, f"cannot read {text!r} as a number",
                                                node.start_mark) from None


DocumentLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _parse_yaml(text: str, source: str, error: type[DocumentError]) -> tuple[Any, yaml.Node | None]:
    loader = DocumentLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_tree(root, source, error)  # before construction: bounds, duplicate keys
        return loader.construct_document(root), root
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        raise error(source, line, "document", f"not valid YAML: {_yaml_problem(exc)}", column=column) from None
    except RecursionError:  # the composer recurses per level: far deeper than DEPTH_MAX, within the size limit
        raise error(source, 0, "document", f"nested deeper than {DEPTH_MAX} levels") from None
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [part for part in (exc.context, exc.problem) if part]
        if parts:
            return ", ".join(parts)
    return str(exc).splitlines()[0]


def _check_tree(root: yaml.Node, source: str, error: type[DocumentError]) -> None:
    """Depth, node count and duplicate keys, walked without recursion."""
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    seen = 0
    while stack:
        node, loc = stack.pop()
        seen += 1
        if seen > NODES_MAX:
            raise error(source, 0, "document", f"more than {NODES_MAX} values")
        if len(loc) > DEPTH_MAX:
            line, column = _position(node)
            raise error(source, line, dotted_location(loc), f"nested deeper than {DEPTH_MAX} levels", column=column)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, (*loc, index)) for index, child in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    stack.append((value, loc))  # merged keys belong to this mapping
                    continue
                name = key.value if isinstance(key, yaml.ScalarNode) else ""
                if isinstance(key, yaml.ScalarNode):
                    identity = (key.tag, key.value)
                    if identity in first:
                        raise error(source, key.start_mark.line + 1, dotted_location((*loc, name)),
                                    f"duplicate key (first on line {first[identity]})",
                                    column=key.start_mark.column + 1)
                    first[identity] = key.start_mark.line + 1
                stack.append((value, (*loc, name)))


# --------------------------------------------------------------------------- JSON


def _parse_json(text: str, source: str, error: type[DocumentError]) -> Any:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise error(source, 0, str(key), "duplicate key")
            out[key] = value
        return out

    try:
        data = json.loads(text, parse_float=Decimal, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise error(source, exc.lineno, "document", f"not valid JSON: {exc.msg}", column=exc.colno) from None
    except RecursionError:
        raise error(source, 0, "document", f"nested deeper than {DEPTH_MAX} levels") from None
    _check_data(data, source, error)
    return data


def _json_nodes(text: str) -> yaml.Node | None:
    """The node tree of a JSON document, only to name lines in errors (JSON is YAML, nearly always)."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def _check_data(data: Any, source: str, error: type[DocumentError]) -> None:
    stack: list[tuple[Any, Loc]] = [(data, ())]
    seen = 0
    while stack:
        value, loc = stack.pop()
        seen += 1
        if seen > NODES_MAX:
            raise error(source, 0, "document", f"more than {NODES_MAX} values")
        if len(loc) > DEPTH_MAX:
            raise error(source, 0, dotted_location(loc), f"nested deeper than {DEPTH_MAX} levels")
        if isinstance(value, dict):
            stack.extend((child, (*loc, str(key))) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, (*loc, index)) for index, child in enumerate(value))


# --------------------------------------------------------------------------- errors and locations


def _validation_error(exc: ValidationError, source: str, root: yaml.Node | None,
                      error: type[DocumentError]) -> DocumentError:
    # A typo'd key also makes the real key "missing": name the unknown key first, it is the cause.
    details = sorted(exc.errors(), key=lambda detail: detail["type"] != "extra_forbidden")
    problems = [_problem(detail) for detail in details[:ERRORS_SHOWN_MAX]]
    loc, message = problems[0]
    message += "".join(f"; {dotted_location(other)}: {text}" for other, text in problems[1:])
    if len(details) > ERRORS_SHOWN_MAX:
        message += f"; and {len(details) - ERRORS_SHOWN_MAX} more"
    line, column = _position(node_at(root, loc))
    return error(source, line, dotted_location(loc), message, column=column)


def _problem(detail: Mapping[str, Any]) -> tuple[Loc, str]:
    """The location and message of one pydantic error, with the field a model validator named."""
    loc: Loc = tuple(detail["loc"])
    message = str(detail["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    cause = detail.get("ctx", {}).get("error")
    if isinstance(cause, LendstackError):
        message = cause.message
        if not loc:  # a model-level check names its field itself
            loc = _split(cause.field)
    if message.startswith("@") and ": " in message:  # "@a.b: reason" names a field below loc
        where, message = message[1:].split(": ", 1)
        loc += _split(where)
    return loc, message


def _split(dotted: str) -> Loc:
    return tuple(int(part) if part.isdigit() else part for part in dotted.split(".") if part)


def dotted_location(loc: Sequence[str | int]) -> str:
    """("stages", 1, "dpd_from") → "stages.1.dpd_from"; the empty location is the whole document."""
    return ".".join(str(part) for part in loc) or "document"


def node_at(root: yaml.Node | None, loc: Sequence[str | int]) -> yaml.Node | None:
    """The deepest node of `loc` that exists in the document (the root for an empty loc or a missing key)."""
    node = root
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node


def line_of(root: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """The 1-based line of the deepest node of `loc` that exists (0 without a document)."""
    return _position(node_at(root, loc))[0]


def _position(node: yaml.Node | None) -> tuple[int, int]:
    if node is None:
        return 0, 0
    return node.start_mark.line + 1, node.start_mark.column + 1
