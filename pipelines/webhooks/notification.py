"""Validation of a webhook bundle and its notifications, and the dedup key (pure, no I/O).

The payload shape is [ASSUMED] (tampuuri-api.md section 5): a POST body
`{"Attempts": 1, "Notifications": [{...}, ...]}`, each notification carrying `Action`,
`Account`, `ReferenceId`, `ReferenceSecondaryId`, `ReferenceData`, `ReferenceJson` and
`Timestamp`. Keys are matched case-insensitively (ASP.NET binds them that way), and
unknown keys are kept: the API grows new fields.

What is required, and why:
- `Notifications` (a list) makes a body a bundle; without it the body is rejected (400).
- `Attempts` is informational only (how often the bus tried); a bundle without it is
  accepted as attempt 1, because rejecting it would lose every event inside. When
  present it must be a positive integer.
- Per notification, `Action` (non-empty string), `Account` (non-empty string) and
  `ReferenceId` (an integer or a numeric string) are required: without them nothing can
  be refreshed. A notification missing one is dead-lettered, the rest of the bundle kept.
- `Timestamp` is optional: a refresh always fetches the row's current state, so a
  missing time loses nothing (receipt time is recorded anyway). When present it must be
  ISO 8601; a value that is not means the sender is not speaking the contract we assume,
  and the notification goes to the dead letters where an operator sees it.
- `ReferenceSecondaryId`, when present and not null/empty, must be numeric (for objects it
  names the cost centre, which the planner uses).
- Text the inbox stores (`Action`, `Account`, `ReferenceData`, `ReferenceJson`) must be
  storable in PostgreSQL `text`: a NUL character (`\u0000`) is not, so such a notification
  is dead-lettered with that reason, its siblings kept.

Numbers are decoded exactly (pipelines/tampuuri/json_codec.py), and the dedup key hashes
the notification's meaning, not its bytes (pipelines/webhooks/dedup.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from pipelines.tampuuri import json_codec
from pipelines.webhooks.dedup import meaning_key

HELSINKI: Final = ZoneInfo("Europe/Helsinki")
BIGINT_MAX: Final = 2**63 - 1


class BundleError(ValueError):
    """The body is JSON but not a webhook bundle; the message names what is wrong."""


@dataclass(frozen=True)
class Notification:
    """One valid notification, normalised for the inbox."""

    dedup_key: str
    account: str
    action: str
    reference_id: int
    reference_secondary_id: int | None
    reference_data: str | None
    reference_json: str | None
    event_timestamp: datetime | None


@dataclass(frozen=True)
class InvalidNotification:
    """A notification that cannot be acted on, with the reason and its verbatim JSON."""

    reason: str
    payload: str


@dataclass(frozen=True)
class ParsedBundle:
    """A bundle split into valid and invalid notifications."""

    attempts: int
    valid: tuple[Notification, ...]
    invalid: tuple[InvalidNotification, ...]


@dataclass(frozen=True)
class Undecodable:
    """A notification whose JSON could not be decoded on its own (the body's other
    notifications could): it becomes a dead letter with this reason and its raw text."""

    reason: str
    payload: str


def dedup_key(notification: Mapping[str, Any]) -> str:
    """The dedup key of a valid notification: sha256 over its meaning (dedup.py).

    Raises:
        ValueError: the notification is not valid (the message names the field).
    """
    return parse_notification(notification).dedup_key


def parse_bundle(body: object) -> ParsedBundle:
    """Check a decoded JSON body is a bundle and validate each notification.

    Raises:
        BundleError: the body is not a bundle (the message names what is missing).
    """
    if not isinstance(body, dict):
        raise BundleError(
            f"expected a JSON object with Attempts and Notifications, got {_json_type(body)}"
        )
    fields = _folded(body)
    notifications = fields.get("notifications", _MISSING)
    if notifications is _MISSING:
        raise BundleError("Notifications is missing (expected a list of notifications)")
    if not isinstance(notifications, list):
        raise BundleError(f"Notifications must be a list, got {_json_type(notifications)}")
    attempts = fields.get("attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise BundleError(f"Attempts must be a positive integer, got {attempts!r:.40}")
    valid: list[Notification] = []
    invalid: list[InvalidNotification] = []
    for index, item in enumerate(notifications):
        if isinstance(item, Undecodable):
            invalid.append(
                InvalidNotification(f"Notifications[{index}]: {item.reason}", item.payload)
            )
            continue
        try:
            valid.append(parse_notification(item))
        except ValueError as exc:
            invalid.append(InvalidNotification(f"Notifications[{index}]: {exc}", _payload(item)))
        except RecursionError:
            reason = "nested too deeply to process"
            invalid.append(InvalidNotification(f"Notifications[{index}]: {reason}", _payload(item)))
    return ParsedBundle(attempts=attempts, valid=tuple(valid), invalid=tuple(invalid))


def parse_notification(item: object) -> Notification:
    """Validate one notification.

    Raises:
        ValueError: a required field is missing or malformed (the message names it).
    """
    if not isinstance(item, dict):
        raise ValueError(f"a notification must be a JSON object, got {_json_type(item)}")
    fields = _folded(item)
    notification = Notification(
        dedup_key="",
        account=_required_text(fields, "Account"),
        action=_required_text(fields, "Action"),
        reference_id=_required_id(fields, "ReferenceId"),
        reference_secondary_id=_optional_id(fields, "ReferenceSecondaryId"),
        reference_data=_optional_text(fields, "ReferenceData"),
        reference_json=_optional_text(fields, "ReferenceJson"),
        event_timestamp=_optional_timestamp(fields, "Timestamp"),
    )
    known = {
        "account": notification.account,
        "action": notification.action,
        "referenceid": notification.reference_id,
        "referencesecondaryid": notification.reference_secondary_id,
        "referencedata": notification.reference_data,
        "referencejson": notification.reference_json,
        "timestamp": notification.event_timestamp,
    }
    return replace(notification, dedup_key=meaning_key(fields, known))


_MISSING: Final = object()


def _folded(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Keys folded to lower case; the first spelling wins if a key repeats in two cases."""
    folded: dict[str, Any] = {}
    for key, value in obj.items():
        folded.setdefault(str(key).casefold(), value)
    return folded


def _required_text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name.casefold())
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is required (a non-empty string), got {_shown(value)}")
    return _storable(name, value.strip())


def _required_id(fields: Mapping[str, Any], name: str) -> int:
    value = _optional_id(fields, name)
    if value is None:
        raise ValueError(
            f"{name} is required (an integer id), got {_shown(fields.get(name.casefold()))}"
        )
    return value


def _optional_id(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name.casefold())
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    elif isinstance(value, Decimal | float) and _whole_in_range(value):
        number = int(value)
    if number is None or not -BIGINT_MAX <= number <= BIGINT_MAX:
        raise ValueError(f"{name} must be an integer id, got {_shown(value)}")
    return number


def _whole_in_range(value: Decimal | float) -> bool:
    """12.0 is id 12; compared before int(), so 1e999999 never expands into digits."""
    in_range: bool = -BIGINT_MAX <= value <= BIGINT_MAX
    return in_range and value == int(value)


def _optional_text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name.casefold())
    if value is None:
        return None
    if isinstance(value, str):
        return _storable(name, value)
    # ReferenceJson may arrive already decoded; keep it as JSON text, losing nothing
    # (a NUL inside is written as the escape \u0000, which text stores).
    return json_codec.encode(value).decode()


def _storable(name: str, value: str) -> str:
    """The text, if PostgreSQL can store it as it is."""
    if "\x00" in value:
        at = value.index("\x00")
        raise ValueError(
            f"{name} contains a NUL character (\\u0000) at position {at}, which the"
            " warehouse cannot store in text"
        )
    return value


def _optional_timestamp(fields: Mapping[str, Any], name: str) -> datetime | None:
    value = fields.get(name.casefold())
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string, got {_shown(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{name} is not ISO 8601: {_shown(value)}") from None
    # ASP.NET DateTime without an offset is Helsinki wall-clock time (as in the warehouse).
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=HELSINKI)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    """A short rendering of a bad value for an error message."""
    return "nothing" if value is None else repr(value)[:60]


def _payload(value: object) -> str:
    """A dead letter's payload: the notification as JSON text (NULs escaped, so storable)."""
    try:
        return json_codec.encode(value).decode()
    except (json_codec.EncodeError, RecursionError, TypeError) as exc:
        return f"(not re-encodable as JSON: {type(exc).__name__})"
