"""`ConfigError`, and pydantic's validation errors said as one line that names each bad key.

The message never repeats a value that could be a secret: pydantic's own messages carry
`input_value=...`, so they are never shown; a value is quoted only when it sits outside
the credential keys and does not look like a key or a password.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# A key path holding one of these words holds secrets or what leads to them (a proxy URL
# can carry a password): its values are never quoted.
_SECRET_KEYS = ("credential", "password", "secret", "api_key", "apikey", "token", "proxy")
_HIDDEN = "(value not shown)"
_INNER_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*): (.+)", re.S)
_QUOTED_CHOICE = re.compile(r"'((?:[^'\\]|\\.)*)'")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the file and key."""


def describe_validation_error(
    source: str,
    exc: ValidationError,
    *,
    key: Callable[[tuple[int | str, ...]], str] | None = None,
) -> ConfigError:
    """Turn pydantic's error into one message naming each bad key path.

    `accounts.yaml: accounts[2].package: 'Standrd' is not one of standard, normal`.

    Args:
        source: what was read (a file's path, "environment").
        exc: pydantic's error.
        key: how a location is named (default `key_path`; the environment names variables).
    """
    name = key or key_path
    problems: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        location = name(error["loc"])
        text = _problem(error, location)
        # A model's own check says which of its keys is wrong: "action: applies to ...".
        inner = _INNER_KEY.match(text) if error["type"] == "value_error" else None
        if inner:
            location = f"{location}.{inner[1]}" if error["loc"] else inner[1]
            text = inner[2]
        if text not in problems.setdefault(location, []):
            problems[location].append(text)
    said = [f"{where}: {' or '.join(texts)}" for where, texts in problems.items()]
    return ConfigError(f"{source}: " + "; ".join(said))


def key_path(loc: tuple[int | str, ...]) -> str:
    """`("accounts", 2, "package")` as `accounts[2].package`.

    Parts that name a union member rather than a key (`literal['package']`,
    `function-after[...]`) are left out: a reader knows keys, not pydantic's types.
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" in part:
            continue
        else:
            # A key can be a secret too (a line `<api key>: x` written into a mapping).
            key = "(key not shown)" if looks_secret(part) else part
            path += f".{key}" if path else key
    return path or "(top level)"


def looks_secret(value: str) -> bool:
    """Whether a string could be a key or a password: one word of 12 or more characters
    mixing letters and digits (an API key, a UUID, `salasana-123`)."""
    return (
        len(value) >= 12
        and not any(c.isspace() for c in value)
        and any(c.isalpha() for c in value)
        and any(c.isdigit() for c in value)
    )


def shown(value: Any, location: str) -> str:
    """A value as a message may quote it: YAML-like, and hidden where it may be secret."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple | set):
        return "a list"
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    lowered = location.lower()
    if any(word in lowered for word in _SECRET_KEYS) or looks_secret(value):
        return _HIDDEN
    return repr(value) if len(value) <= 80 else repr(value[:77] + "...")


def _choices(expected: str) -> str:
    # pydantic says "'standard', 'normal' or 'large'"; a reader wants "standard, normal, large".
    names = _QUOTED_CHOICE.findall(expected)
    return ", ".join(names) if names else expected


_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
    "dataclass": "a mapping",
    "list": "a list",
    "tuple": "a list",
    "set": "a list",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def _problem(error: ErrorDetails, location: str) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = shown(error.get("input"), location)
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown key"
    if kind in ("missing", "missing_keyword_argument", "missing_argument"):
        return "is required"
    if kind in ("literal_error", "enum"):
        return f"{value} is not one of {_choices(str(ctx.get('expected', '')))}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = ctx.get(key)
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"must be {words} {bound}, got {value}"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in ("string_too_short", "too_short"):
        return f"must have at least {ctx.get('min_length')} item(s) or character(s)"
    if kind in ("string_too_long", "too_long"):
        return f"must have at most {ctx.get('max_length')} item(s) or character(s)"
    if kind == "finite_number":
        return f"must be a finite number, got {value}"
    if kind == "string_pattern_mismatch":
        return f"{value} does not match {ctx.get('pattern')}"
    for prefix, expected in _KINDS.items():
        if kind.startswith(prefix + "_") or kind == prefix:
            return f"must be {expected}, got {value}"
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error", error["msg"]))
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    # pydantic's own wording; `msg` never carries the input (only str(exc) does).
    return error["msg"]
