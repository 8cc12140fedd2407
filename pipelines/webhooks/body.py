"""A webhook body's bytes -> a parsed bundle, one notification at a time if need be (pure).

The whole body is decoded at once (exact decimals, json_codec). When that fails although
the body is well-formed at the top (one notification nests deeper than the decoder goes,
or carries an escape it refuses, such as an unpaired surrogate `\\ud800`), the body is
split into its top-level members and its notifications by a flat scan that never
recurses, and each notification is decoded on its own: the one that cannot be goes to the
dead letters with the reason, its siblings are stored. Only a body whose outer shape is
not JSON is refused as a whole.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.tampuuri import json_codec
from pipelines.webhooks.notification import ParsedBundle, Undecodable, parse_bundle

# One JSON token: a string (escapes kept), a structural character, or a bare scalar.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]|[^\s\[\]{}:,"]+', re.S)
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


class BodyError(ValueError):
    """The body is not JSON at all; the message says where."""


def parse_body(body: bytes) -> ParsedBundle:
    """Decode and validate a webhook body.

    Raises:
        BodyError: the body is not JSON (nothing in it can be read).
        BundleError: it is JSON but not a bundle (the message names what is missing).
    """
    try:
        decoded = json_codec.decode(body)
    except (json_codec.DecodeError, RecursionError) as exc:
        whole = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        split = _split(body)
        if split is None:
            raise BodyError(f"body is not valid JSON: {whole}") from None
        decoded = split
    return parse_bundle(decoded)


def _split(body: bytes) -> dict[str, Any] | None:
    """The top-level object with each notification decoded alone, or None if not an object."""
    members = _members(body)
    if members is None:
        return None
    out: dict[str, Any] = {}
    for key, raw in members.items():
        if key.casefold() == "notifications" and raw[:1] == b"[":
            elements = _elements(raw)
            if elements is None:
                return None
            out[key] = [_decode_one(element) for element in elements]
        else:
            try:
                out[key] = json_codec.decode(raw)
            except (json_codec.DecodeError, RecursionError):
                return None
    return out


def _decode_one(raw: bytes) -> Any:
    try:
        return json_codec.decode(raw)
    except RecursionError:
        return Undecodable("nested too deeply to decode", _text(raw))
    except json_codec.DecodeError as exc:
        return Undecodable(f"not valid JSON: {exc}", _text(raw))


def _members(body: bytes) -> dict[str, bytes] | None:
    """Top-level object members as raw value bytes (None: not a well-formed object)."""
    parts = _parts(body.strip(), b"{", b"}")
    if parts is None:
        return None
    members: dict[str, bytes] = {}
    for part in parts:
        match = _TOKEN.match(part)
        if match is None or part[:1] != b'"':
            return None
        rest = part[match.end() :].lstrip()
        if rest[:1] != b":":
            return None
        try:
            key = json_codec.decode(match.group())
        except json_codec.DecodeError:
            return None
        members.setdefault(str(key), rest[1:].strip())
    return members


def _elements(array: bytes) -> list[bytes] | None:
    return _parts(array, b"[", b"]")


def _parts(text: bytes, opening: bytes, closing: bytes) -> list[bytes] | None:
    """The comma-separated parts at depth 1 of `opening ... closing` (a flat scan)."""
    if text[:1] != opening or text[-1:] != closing:
        return None
    parts: list[bytes] = []
    depth, start = 0, 1
    for match in _TOKEN.finditer(text):
        first = match.group()[0]
        if first in _OPEN:
            depth += 1
        elif first in _CLOSE:
            depth -= 1
            if depth == 0:
                if match.end() != len(text):
                    return None
                last = text[start : match.start()].strip()
                if last:
                    parts.append(last)
                elif parts:
                    return None  # a trailing comma
                return parts
        elif first == ord(",") and depth == 1:
            parts.append(text[start : match.start()].strip())
            start = match.end()
    return None


def _text(raw: bytes) -> str:
    """Raw JSON as storable text: invalid UTF-8 and raw NULs shown as escapes."""
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\u0000")
