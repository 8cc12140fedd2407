"""What a call looks like on the wire: header bytes, query values, the JSON answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from pipelines.tampuuri import json_codec
from pipelines.tampuuri.retry import InvalidJSONBody

__all__ = ["encoded_headers", "parse_body", "query_value"]


def encoded_headers(headers: Mapping[str, str]) -> dict[bytes, bytes]:
    """Header values as bytes: ISO-8859-1 where possible, else UTF-8.

    Customer names are Finnish ("Isännöinti Oy"); httpx refuses non-ASCII str values.
    HTTP/1.1 header bytes are historically ISO-8859-1, which is what ASP.NET on HTTP.sys
    and Starlette (the simulator) decode, and it covers ä, ö and å. A character outside it
    cannot travel as ISO-8859-1, so such a value goes as UTF-8 [ASSUMED].
    """
    encoded: dict[bytes, bytes] = {}
    for name, value in headers.items():
        try:
            encoded[name.encode("ascii")] = value.encode("iso-8859-1")
        except UnicodeEncodeError:
            encoded[name.encode("ascii")] = value.encode("utf-8")
    return encoded


def parse_body(response: httpx.Response) -> Any:
    """A 2xx answer's JSON (None for an empty body); `InvalidJSONBody` (retriable) else."""
    if not response.content:
        return None
    try:
        return json_codec.decode(response.content)  # exact decimals, ints of any size
    except json_codec.DecodeError:
        raise InvalidJSONBody(response.status_code) from None


def query_value(value: object) -> str | int | float | bool:
    """A query-string value as httpx takes it."""
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)
