"""`ConfigError`, and pydantic's validation errors said as one line that names each bad key.

The message never repeats a value that could be a secret: pydantic's own messages carry
`input_value=...`, so they are never shown; a value is quoted only when it sits outside
the credential keys and does not look like a key or a password.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

# A key path holding one of these words holds secrets or what leads to them (a proxy URL
# can carry a password): its values are never quoted.
_SECRET_KEYS = ("credential", "password", "secret", "api_key", "apikey", "token", "proxy")
_HIDDEN = "(value not shown)"
_UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")
_INNER_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*): (.+)", re.S)
_QUOTED_CHOICE = re.compile(r"'((?:[^'\\]|\\.)*)'")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the file and key."""


def describe_validation_error(
    source: str,
    exc: ValidationError,
    *,
    key: Callable[[tuple[int | str, ...]], str] | None = None,
    model: type[BaseModel] | None = None,
) -> ConfigError:
    """Turn pydantic's error into one message naming each bad key path.

    `accounts.yaml: accounts[2].package: 'Standrd' is not one of standard, normal`.

    Args:
        source: what was read (a file's path, "environment").
        exc: pydantic's error.
        key: how a location is named (default `key_path`; the environment names variables).
        model: the model validated: an unknown key then says the known key it is closest
            to (`page_concurency: unknown key (did you mean page_concurrency?)`).
    """
    name = key or key_path
    problems: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        location = name(error["loc"])
        text = _problem(error, location)
        if model is not None and error["type"] in _UNKNOWN_KEY and error["loc"]:
            text += did_you_mean(model, error["loc"])
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
    if kind in _UNKNOWN_KEY:
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


def did_you_mean(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """ " (did you mean <key>?)" for an unknown key at `loc` close to a key the model
    knows there, else "". Keys that look secret are never repeated."""
    wrong = loc[-1]
    if not isinstance(wrong, str) or looks_secret(wrong):
        return ""
    known = _keys_at(model, loc[:-1])
    close = difflib.get_close_matches(wrong, known, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _keys_at(model: type[Any], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the (sub)model at `loc` accepts (fields and their aliases)."""
    current: Any = model
    for part in loc:
        found = _model_in(current)
        if found is not None and isinstance(part, str) and part in _keys(found):
            current = _field(found, part).annotation
        else:  # a list index or a mapping's key: go into the container's items
            current = _items_of(current)
    found = _model_in(current)
    return _keys(found) if found is not None else []


def _keys(model: type[Any]) -> list[str]:
    return [f.alias or name for name, f in model.__pydantic_fields__.items()]


def _field(model: type[Any], key: str) -> Any:
    fields = model.__pydantic_fields__.items()
    return next(f for name, f in fields if (f.alias or name) == key)


def _model_in(annotation: Any) -> type[Any] | None:
    """The model (or pydantic dataclass) an annotation is, through Optional, unions and
    Annotated, if any."""
    if inspect.isclass(annotation) and hasattr(annotation, "__pydantic_fields__"):
        return annotation
    if get_origin(annotation) is Union or type(annotation).__name__ in (
        "UnionType",
        "_AnnotatedAlias",
    ):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _items_of(annotation: Any) -> Any:
    """What a list, tuple or mapping annotation holds (its last type argument)."""
    args = [a for a in get_args(annotation) if a is not type(None) and a is not Ellipsis]
    if get_origin(annotation) is Union or type(annotation).__name__ == "UnionType":
        return next((_items_of(a) for a in args if get_args(a)), None)
    return args[-1] if args else None
