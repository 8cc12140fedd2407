"""Authentication (the six X- headers) and role rights (Hae/Lisää/Poista/Päivitä per route)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from pipelines.simulator.config import AccountCredentials

# ASP.NET Web API's stock message: it names no header and no value.
UNAUTHORIZED_MESSAGE = "Authorization has been denied for this request."
_CHECKED = (
    ("X-TampuuriAvain", "api_key"),
    ("X-AsiakasNimi", "customer_name"),
    ("X-TiliNimi", "account_name"),
    ("X-Kayttajatunnus", "username"),
    ("X-Salasana", "password"),
)


class Authenticator:
    """Maps request headers to an account label, or None when any header is wrong."""

    def __init__(self, credentials: Mapping[str, AccountCredentials]) -> None:
        self._by_account_name = {c.account_name: (label, c) for label, c in credentials.items()}

    def label_for(self, account_name: str | None) -> str | None:
        """The account label whose `X-TiliNimi` is `account_name` (for reporting 401s)."""
        found = self._by_account_name.get(account_name or "")
        return found[0] if found else None

    def authenticate(self, headers: Mapping[str, str]) -> str | None:
        if not headers.get("x-ohjelmistoversio"):
            return None  # the calling software must name itself
        found = self._by_account_name.get(headers.get("x-tilinimi", ""))
        if found is None:
            return None
        label, creds = found
        ok = True
        for header, attribute in _CHECKED:
            sent = headers.get(header.lower(), "").encode()
            # Compare every header in constant time; no early exit reveals which one failed.
            ok &= hmac.compare_digest(sent, getattr(creds, attribute).encode())
        return label if ok else None


def required_right(method: str, template: str) -> str:
    """The role right a route needs: reads (GET, POST .../selaa, .../hae) need Hae."""
    if template.endswith("/lisaa"):
        return "Lisää"
    if method in ("DELETE",):
        return "Poista"
    if method in ("PUT", "PATCH"):
        return "Päivitä"
    return "Hae"
