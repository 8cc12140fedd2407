"""What a failed attempt says, in words fit for an error and a log: never a secret."""

from __future__ import annotations

import httpx
import orjson

from pipelines.tampuuri.network_options import certificate_failure, describe_certificate_failure
from pipelines.tampuuri.retry import InvalidJSONBody
from pipelines.tampuuri.sanitize import redact

__all__ = ["api_message", "describe_failure"]


def describe_failure(exc: BaseException, origin: str) -> str:
    """What went wrong without a response: a certificate failure in words, else the
    exception's class (ReadTimeout, ConnectError); httpx messages can carry the URL,
    which holds ids but no secrets, so they are not needed either."""
    if isinstance(exc, InvalidJSONBody):
        return str(exc)
    failure = certificate_failure(exc)
    if failure is not None:
        return describe_certificate_failure(failure, origin)
    return type(exc).__name__


def api_message(response: httpx.Response, secrets: tuple[str, ...]) -> str | None:
    """The API's `Message` (ASP.NET style error body), secrets masked."""
    text: str | None = None
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower() == "message" and value is not None:
                text = str(value)
                break
    if text is None and response.content and data is None:
        text = response.content[:200].decode("utf-8", errors="replace").strip() or None
    return redact(text, secrets) if text else None
