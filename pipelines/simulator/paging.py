"""Request parsing shared by the list routes: paging values, filters, the envelope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.simulator.dates import parse_ticks
from pipelines.tampuuri import json_codec

MAX_LIMIT = 250
DEFAULT_LIMIT = 250  # [ASSUMED] the API's default is not documented


class BadRequest(Exception):
    """A 400 answer: `{"Message": ...}` plus `ModelState` when a body field is wrong."""

    def __init__(self, message: str, model_state: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.model_state = model_state

    def body(self) -> bytes:
        payload: dict[str, Any] = {"Message": self.message}
        if self.model_state:
            payload["ModelState"] = self.model_state
        return json_codec.encode(payload)


def lower_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """Query and body keys match case-insensitively (ASP.NET model binding)."""
    return {str(k).lower(): v for k, v in values.items()}


def parse_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"The value '{value}' is not valid for {name}.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    else:
        raise BadRequest(f"The value '{value}' is not valid for {name}.")
    if minimum is not None and number < minimum:
        raise BadRequest(f"{name} must be {minimum} or greater.")
    return number


def parse_paging(params: Mapping[str, Any]) -> tuple[int, int]:
    """`(offset, limit)` from lower-cased params; Limit above 250 is clamped to 250."""
    offset = params.get("offset")
    limit = params.get("limit")
    offset_value = 0 if offset in (None, "") else parse_int("Offset", offset, minimum=0)
    limit_value = DEFAULT_LIMIT if limit in (None, "") else parse_int("Limit", limit, minimum=0)
    return offset_value, min(limit_value, MAX_LIMIT)


def parse_since(params: Mapping[str, Any]) -> int | None:
    value = params.get("muokattualku")
    if value in (None, ""):
        return None
    try:
        return parse_ticks(str(value))
    except ValueError:
        raise BadRequest(f"The value '{value}' is not valid for MuokattuAlku.") from None


def envelope(offset: int, limit: int, ids: Sequence[int], blobs: Mapping[int, bytes]) -> bytes:
    """`{"Offset","Limit","Total","Items"}` built by joining pre-serialised rows."""
    items = b",".join([blobs[i] for i in ids[offset : offset + limit]]) if limit else b""
    head = b'{"Offset":%d,"Limit":%d,"Total":%d,"Items":[' % (offset, limit, len(ids))
    return head + items + b"]}"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json_codec.decode(raw)
    except json_codec.DecodeError:
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data
