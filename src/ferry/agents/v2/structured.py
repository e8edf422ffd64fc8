"""Structured inputs: an agent version declares named inputs, a response gives their values,
and `{{name}}` in the agent's instructions and tool definitions becomes the value (a file id
in a code_interpreter container, a vector store id, a word of the instructions).

An input a response does not give takes its `default_value`; a required one with neither is a
400, as is a value its `schema` (JSON schema) refuses, or one given that the agent does not
declare.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from ferry.agents.errors import BadRequest
from ferry.types import Json

__all__ = ["check_declared", "fill_in"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_FIELDS = {"description": str, "schema": dict, "required": bool}


def check_declared(value: Any) -> Json | None:
    """A definition's `structured_inputs`, checked."""
    if value is None:
        return None
    where = "definition.structured_inputs"
    if not isinstance(value, dict) or len(value) > 32:
        raise BadRequest(f"{where} must be an object of at most 32 inputs", param=where)
    checked: Json = {}
    for name, spec in value.items():
        if not _NAME.fullmatch(name) or not isinstance(spec, dict):
            raise BadRequest(
                f"{where}: '{name[:64]}' must be a name (letters, digits, '_') for an object",
                param=where,
            )
        for key, kind in _FIELDS.items():
            if spec.get(key) is not None and not isinstance(spec[key], kind):
                raise BadRequest(f"{where}.{name}.{key} has the wrong type", param=where)
        if spec.get("schema") is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(spec["schema"])
            except jsonschema.SchemaError as exc:
                raise BadRequest(f"{where}.{name}.schema: {exc.message}", param=where) from None
        checked[name] = {
            key: spec[key]
            for key in ("description", "default_value", "schema", "required")
            if key in spec
        }
    return checked


def _values(declared: Json, given: Any) -> Json:
    if given is not None and not isinstance(given, dict):
        raise BadRequest("'structured_inputs' must be an object", param="structured_inputs")
    given = given or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise BadRequest(
            f"structured input '{unknown[0][:64]}' is not declared by the agent",
            param="structured_inputs",
        )
    values: Json = {}
    for name, spec in declared.items():
        if name in given:
            value = given[name]
        elif "default_value" in spec:
            value = spec["default_value"]
        elif spec.get("required"):
            raise BadRequest(
                f"the agent needs the structured input '{name}'", param="structured_inputs"
            )
        else:
            continue
        if spec.get("schema") is not None:
            try:
                jsonschema.validate(value, spec["schema"])
            except jsonschema.ValidationError as exc:
                raise BadRequest(
                    f"structured input '{name}': {exc.message}", param="structured_inputs"
                ) from None
        values[name] = value
    return values


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _fill(node: Any, values: Json) -> Any:
    if isinstance(node, str):
        for name, value in values.items():
            node = node.replace("{{" + name + "}}", _text(value))
        return node
    if isinstance(node, list):
        return [_fill(part, values) for part in node]
    if isinstance(node, dict):
        return {key: _fill(part, values) for key, part in node.items()}
    return node


def fill_in(definition: Json, given: Any) -> Json:
    """The definition with the response's structured inputs in place of their `{{name}}`s."""
    declared = definition.get("structured_inputs") or {}
    if not declared:
        if given:
            raise BadRequest("the agent declares no structured inputs", param="structured_inputs")
        return definition
    values = _values(declared, given)
    filled = dict(definition)
    for key in ("instructions", "tools"):
        if filled.get(key) is not None:
            filled[key] = _fill(filled[key], values)
    return filled
