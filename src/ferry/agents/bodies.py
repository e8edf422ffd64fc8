"""What every request body of the agents APIs shares: strict pydantic models that ignore
unknown keys, metadata rules, size limits, and one way of turning a body into a model.

Unknown keys are ignored (the SDKs send fields of newer service versions); known keys must
have the right type and range, or the request is refused with a 400 naming the field.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ferry.agents.errors import BadRequest

__all__ = ["MAX_BODY", "TEXT_LIMIT", "Body", "Metadata", "check_metadata", "parse_body"]

M = TypeVar("M", bound=BaseModel)

MAX_BODY = 4 * 1024 * 1024
"""Largest request body read (bytes)."""
TEXT_LIMIT = 256_000
"""Largest message text or instructions (characters)."""


def check_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object of string values")
    if len(value) > 16:
        raise ValueError("may have at most 16 keys")
    for key, item in value.items():
        if len(key) > 64:
            raise ValueError(f"key '{key[:70]}' is longer than 64 characters")
        if not isinstance(item, str) or len(item) > 512:
            raise ValueError(f"value of '{key}' must be a string of at most 512 characters")
    return value


Metadata = Annotated[dict[str, str] | None, BeforeValidator(check_metadata)]
"""Up to 16 string pairs, as the service allows."""


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


def parse_body(model: type[M], raw: bytes, *, empty_ok: bool = False) -> M:
    """Decode and check a JSON body; every failure is a 400 that names the field."""
    if not raw.strip():
        if empty_ok:
            return model.model_validate({})
        raise BadRequest("the request body is empty; a JSON object is required")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(f"invalid '{where}': {first['msg']}", param=where) from None
