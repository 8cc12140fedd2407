"""Receiver settings, from TAMPUURI_WEBHOOK_* environment variables (read when built).

The secret the operator registers in Tampuuri (Ylläpito → Webhooks) comes from
TAMPUURI_WEBHOOK_SECRET; a comma-separated list is accepted so that a new secret can be
registered before the old one is removed (rotation). Secrets are `SecretStr` values: they
never show in repr, logs or errors.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ReceiverSettings(BaseSettings):
    """How the webhook receiver listens and authenticates.

    Attributes:
        path: the listener path registered in Tampuuri.
        auth_mode: "header" (secret in X-Webhook-Secret) or "path" (POST {path}/{secret}).
        header_name: the header carrying the secret in header mode.
        secrets: accepted secrets (more than one during rotation).
        max_body_bytes: larger bodies are refused with 413 without being read.
        allow_from: source networks allowed to post (CIDRs); empty allows any.
        header_timeout_s: a connection whose request line and headers are not complete
            this long after it opened (or after its previous response) is closed.
        body_timeout_s: a body not received in full within this time is answered 408
            and its connection closed.
    """

    model_config = SettingsConfigDict(
        env_prefix="TAMPUURI_WEBHOOK_",
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    path: str = "/tampuuri/webhook"
    auth_mode: Literal["header", "path"] = "header"
    header_name: str = "X-Webhook-Secret"
    secrets: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(), validation_alias=AliasChoices("TAMPUURI_WEBHOOK_SECRET")
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    allow_from: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    body_timeout_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("path")
    @classmethod
    def _path_shape(cls, value: str) -> str:
        cleaned = "/" + value.strip().strip("/")
        if "{" in cleaned or " " in cleaned:
            raise ValueError("must be a plain URL path such as /tampuuri/webhook")
        return cleaned

    @field_validator("secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> tuple[SecretStr, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("must be a comma-separated string or a list")
        secrets: list[SecretStr] = []
        for item in items:
            secret = item if isinstance(item, SecretStr) else SecretStr(str(item).strip())
            if secret.get_secret_value():
                secrets.append(secret)
        return tuple(secrets)

    @field_validator("allow_from", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> tuple[IPNetwork, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("must be a comma-separated list of CIDRs")
        networks: list[IPNetwork] = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError(f"{text!r} is not an IP network (CIDR)") from None
        return tuple(networks)

    def allows(self, host: str | None) -> bool:
        """Whether a source address may post (always, when no allow-list is set)."""
        if not self.allow_from:
            return True
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.allow_from)
