"""The dedup key of a notification: a hash of what it means, not of its bytes (pure).

Tampuuri redelivers a bundle up to 5 times and nothing promises the same bytes each time:
key order, spacing, the case of a key (ASP.NET binds keys case-insensitively), `12` or
`"12"` for an id, `Z` or `+00:00` for a time, or `ReferenceJson` as a JSON string or as an
object all leave the event the same. The key is therefore sha256 over the canonical JSON
(pipelines/tampuuri/json_codec.py: sorted keys, exact decimals) of the notification's
meaning:

- the known fields as the inbox stores them (ids as integers, the time as a UTC instant,
  `ReferenceJson` parsed when it is JSON text);
- every other field, keys folded to lower case, null fields left out (a null field and a
  missing one say the same), numbers by value (`1.50` and `1.5` are one number).

`Attempts` lives on the bundle, not on the notification, so a redelivered bundle yields
the same keys. Two notifications that differ in any value are distinct events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pipelines.tampuuri import json_codec


def meaning_key(fields: Mapping[str, Any], known: Mapping[str, Any]) -> str:
    """sha256 hex of the notification's meaning.

    Args:
        fields: every field of the notification, keys folded to lower case.
        known: the validated known fields under their folded names (they replace the
            raw values).
    """
    meaning = {key: _value(value) for key, value in fields.items() if value is not None}
    for key, value in known.items():
        meaning.pop(key, None)
        if value is not None:
            meaning[key] = _known(key, value)
    return hashlib.sha256(json_codec.encode_canonical(meaning)).hexdigest()


def _known(key: str, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if key == "referencejson" and isinstance(value, str):
        try:
            return _value(json_codec.decode(value))
        except json_codec.DecodeError:
            return value
    return value


def _value(value: Any) -> Any:
    """A JSON value by meaning: numbers by value, nested structure kept."""
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dict):
        return {key: _value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_value(item) for item in value]
    return value


def _number(value: Decimal) -> int | Decimal:
    """The number without trailing zeros (exactly: no context rounding), an int if whole."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN or Infinity: JSON has neither
        return value
    kept = list(digits)
    while len(kept) > 1 and kept[-1] == 0:
        kept.pop()
        exponent += 1
    if kept == [0]:
        return 0
    if exponent >= 0 and len(kept) + exponent <= 64:  # whole, and small enough to expand
        return int(value)
    return Decimal((sign, tuple(kept), exponent))
