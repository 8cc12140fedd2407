"""An account's `network:` settings (the model; `tampuuri.network_options` builds the
transport from it): proxy, CA bundle, client certificate, HTTP/2."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, field_validator, model_validator


def check_proxy_url(value: str) -> None:
    """A proxy URL is http:// or https:// (ValueError otherwise)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("the proxy URL must start with http:// or https://")


class NetworkOptions(BaseModel):
    """An account's `network:` settings (all optional)."""

    # Errors never repeat an input: a proxy URL can hold a password.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    proxy: StrictStr | None = None
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    http2: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _verification_stays_on(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "verify" in data:
            raise ValueError(
                "verify: TLS verification cannot be turned off; name the CA that signed"
                " the server's certificate in ca_bundle instead"
            )
        return data

    @field_validator("proxy")
    @classmethod
    def _proxy_is_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_proxy_url(value)
        if httpx.URL(value).userinfo:
            raise ValueError(
                "a proxy password does not belong in a config file; give the proxy URL"
                " with its credentials in the HTTPS_PROXY environment variable"
            )
        return value

    @model_validator(mode="after")
    def _key_needs_certificate(self) -> NetworkOptions:
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key is set without client_cert")
        return self
