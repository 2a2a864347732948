"""Structural validation against the published JSON Schema, with readable messages.

The schema file (``policy.schema.json``) is the single description of the document shape:
editors can use it for completion, and the loader uses it here so the two cannot drift.
Semantic checks (references, regexes, CIDRs, operator/type agreement) follow in
:mod:`ztgate.core.policy.parse`.

Two validators, one verdict: ``jsonschema-rs`` (compiled, about 150x faster) answers
"is this document valid?" first; only a document it refuses goes through the Python
``jsonschema`` validator, whose error objects carry the paths our messages need. The
fast one is the stricter of the two on this schema (its ``$`` does not match before a
trailing newline), so a document it accepts the Python one accepts too; a test holds
them to that. A 100,000-agent policy spends 0.2 s here instead of 30 s.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ztgate.core.policy._source import DocPath, SourceMap
from ztgate.errors import Problem

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@cache
def policy_schema() -> dict[str, Any]:
    """The published JSON Schema of policy documents (version 1)."""
    text = resources.files("ztgate.core.policy").joinpath("policy.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(policy_schema())


@cache
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(policy_schema())


def fast_is_valid(data: Any) -> bool:
    """The compiled validator's verdict; any trouble in it means "not known valid"."""
    try:
        return bool(_fast_validator().is_valid(data))
    except Exception:  # an unexpected value type: let the detailed validator decide
        return False


def structural_problems(
    data: Any, smap: SourceMap, validator: Draft202012Validator | None = None
) -> list[Problem]:
    """Every place where ``data`` does not have the shape the schema requires."""
    if validator is None and fast_is_valid(data):
        return []
    problems: list[Problem] = []
    check = validator if validator is not None else _validator()
    errors = sorted(check.iter_errors(data), key=lambda e: [str(p) for p in e.path])
    for error in errors:
        path: DocPath = tuple(error.absolute_path)
        problems.extend(_describe(error, path, smap))
    return problems


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    if len(text) > 60:
        text = text[:57] + "..."
    return f"`{text}`"


def _describe(error: ValidationError, path: DocPath, smap: SourceMap) -> list[Problem]:
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = set(schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in known:
                continue
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            suggestion = f"; did you mean `{hint[0]}`?" if hint else ""
            if known:
                listing = ", ".join(f"`{k}`" for k in sorted(known))
                message = f"unknown key `{key}`{suggestion} (allowed: {listing})"
            else:
                message = f"unknown key `{key}`"
            out.append(smap.problem((*path, key), message))
        return out
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [k for k in schema.get("required", []) if k not in present]
        return [smap.problem(path, f"missing required key `{k}`") for k in missing]
    if kind == "enum":
        allowed = ", ".join(f"`{v}`" for v in schema["enum"])
        return [smap.problem(path, f"{_show(error.instance)} is not one of {allowed}")]
    if kind == "const":
        return [smap.problem(path, f"expected `{json.dumps(schema['const'])}`")]
    if kind == "type":
        wanted = schema["type"]
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        expected = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return [smap.problem(path, f"expected {expected}, got {_show(error.instance)}")]
    if kind == "oneOf" and "oneOf" in schema:
        return [
            smap.problem(
                path, "expected `any` or a mapping with `agents` and/or `blueprints` lists"
            )
        ]
    if kind == "pattern":
        if schema.get("$comment") == "name" or "A-Za-z0-9" in schema.get("pattern", ""):
            return [
                smap.problem(
                    path,
                    f"invalid name {_show(error.instance)}: use up to 128 letters, digits, "
                    "`.`, `_`, `:`, `@` or `-`, starting with a letter or digit",
                )
            ]
        return [smap.problem(path, f"{_show(error.instance)} has an invalid format")]
    if kind == "propertyNames":
        return [smap.problem(path, f"invalid key: {error.message}")]
    if kind == "minItems":
        return [smap.problem(path, "must not be empty")]
    if kind == "minProperties":
        return [smap.problem(path, "must not be empty")]
    if kind == "uniqueItems":
        return [smap.problem(path, "has duplicate entries")]
    return [smap.problem(path, error.message)]
