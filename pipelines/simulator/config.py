"""Simulator settings: accounts, credentials, faults, roles and timings (frozen dataclasses)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pipelines.simulator.generic_spec import GENERIC, generic_templates

# Route templates, exactly as in docs/ARCHITECTURE.md (shared with the call ledger).
ROUTE_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("GET", "kustannuspaikat/selaa"),
    ("GET", "kohteet/{kohde_id}"),
    ("POST", "kohteet/{kohde_id}/selaa"),
    ("GET", "osapuolet/yhteydet/selaa"),
    ("POST", "osapuolitiedot/osapuolet/hae"),
    ("GET", "ilmoitukset/selaa"),
    ("GET", "ilmoitukset/{id}"),
    ("POST", "ilmoitukset/lisaa"),
)
UNKNOWN_ROUTE = "(unknown)"
RIGHTS = ("Hae", "Lisää", "Poista", "Päivitä")
RESOURCES = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")


def default_role() -> dict[str, frozenset[str]]:
    """Every read right (the generic routes' too), plus Lisää on ilmoitukset."""
    templates = [*ROUTE_TEMPLATES, *generic_templates()]
    role = {template: frozenset({"Hae"}) for _, template in templates}
    role["ilmoitukset/lisaa"] = frozenset({"Lisää"})
    return role


@dataclass(frozen=True)
class AccountCredentials:
    """The values a caller must send in the six X- headers for one simulated account."""

    api_key: str
    customer_name: str
    account_name: str
    username: str
    password: str

    def headers(self, software_version: str = "tampuuri-sync-tests_v1") -> dict[str, str]:
        """The six X- headers of a valid request."""
        return {
            "X-TampuuriAvain": self.api_key,
            "X-AsiakasNimi": self.customer_name,
            "X-Ohjelmistoversio": software_version,
            "X-TiliNimi": self.account_name,
            "X-Kayttajatunnus": self.username,
            "X-Salasana": self.password,
        }

    def __repr__(self) -> str:  # secrets stay out of reprs, logs and tracebacks
        return (
            f"AccountCredentials(account_name={self.account_name!r}, "
            f"customer_name={self.customer_name!r}, username={self.username!r})"
        )


def default_credentials(seed: int, account: str) -> AccountCredentials:
    """Deterministic made-up credentials for `account` (a local dev tool, not a secret store)."""
    digest = hashlib.sha256(f"tampuuri-sim:{seed}:{account}".encode()).digest()
    password = hashlib.sha256(digest + b"password").hexdigest()
    return AccountCredentials(
        api_key=str(uuid.UUID(bytes=digest[:16])),
        customer_name=f"Simuloitu Isannointi {account} Oy",  # headers are ASCII
        account_name=account,
        username=f"api-{account}",
        # Mixed case, digits and punctuation: a non-trivial password.
        password=f"Sim-{password[:10]}!{password[10:20].upper()}",
    )


@dataclass(frozen=True)
class FaultConfig:
    """Fault rates (0..1) and shapes; decisions are drawn from `random.Random(seed)`."""

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_limit_rate: float = 0.0
    retry_after_s: float = 1.0
    latency_ms: float = 0.0
    hang_rate: float = 0.0
    hang_s: float = 30.0
    truncate_rate: float = 0.0
    drift_rate: float = 0.0
    # Paging drift (see `drift.py`): the pattern of each drift is drawn from these; a drift
    # goes on over the next `drift_repeat - 1` list pages; only lists of `drift_resources`
    # drift (empty: the built-in lists; a generic list only when named); at most
    # `drift_max` drifted calls in all (0: no limit).
    drift_patterns: tuple[str, ...] = ("delete_read", "insert_after_cursor")
    drift_repeat: int = 1
    drift_resources: tuple[str, ...] = ()
    drift_max: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("error_statuses", *_DRIFT_LISTS):
            out[name] = list(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultConfig:
        """Build from a JSON object; unknown keys raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(unknown)}")
        values = dict(data)
        if "error_statuses" in values:
            values["error_statuses"] = tuple(int(s) for s in values["error_statuses"])
        for name in _DRIFT_LISTS:
            if name in values:
                if isinstance(values[name], str):
                    raise ValueError(f"{name} must be a list of names, not one string")
                values[name] = tuple(str(v) for v in values[name])
        config = cls(**values)
        for name in ("error_rate", "rate_limit_rate", "hang_rate", "truncate_rate", "drift_rate"):
            rate = getattr(config, name)
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        return config

    def __post_init__(self) -> None:
        unknown = [p for p in self.drift_patterns if p not in DRIFT_PATTERNS]
        if unknown or not self.drift_patterns:
            raise ValueError(
                f"drift_patterns: unknown {unknown or 'empty list'};"
                f" use {', '.join(DRIFT_PATTERNS)}"
            )
        known = (*DRIFT_RESOURCES, *GENERIC_DRIFT_RESOURCES)
        lists = [r for r in self.drift_resources if r not in known]
        if lists:
            raise ValueError(f"drift_resources: {lists} have no list route; use {', '.join(known)}")
        if int(self.drift_repeat) < 1 or int(self.drift_max) < 0:
            raise ValueError("drift_repeat must be at least 1 and drift_max at least 0")


# What one drift does between two page calls of a list (`drift.py`).
DRIFT_PATTERNS = ("delete_read", "insert_after_cursor", "delete_and_insert")
DRIFT_RESOURCES = ("kustannuspaikat", "kohteet", "osapuoli_yhteydet", "ilmoitukset")
# The generic lists drift only when `drift_resources` names them (an empty tuple means the
# built-in lists above), so a drifting scan of the built-ins meets exactly what it did.
GENERIC_DRIFT_RESOURCES = tuple(g.name for g in GENERIC)
_DRIFT_LISTS = ("drift_patterns", "drift_resources")


FAULT_PRESETS: dict[str, FaultConfig] = {
    "none": FaultConfig(),
    # A slightly unreliable service: what a nightly sync should shrug off.
    "flaky": FaultConfig(error_rate=0.02, rate_limit_rate=0.02, retry_after_s=0.05, latency_ms=5),
    # Everything at once, for soak tests of retries and paging guards.
    "chaos": FaultConfig(
        error_rate=0.05,
        rate_limit_rate=0.05,
        retry_after_s=0.05,
        latency_ms=10,
        hang_rate=0.01,
        hang_s=5,
        truncate_rate=0.02,
        drift_rate=0.05,
    ),
}


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes one simulator instance.

    Attributes:
        seed: makes data, credentials, random changes and faults reproducible.
        scale: approximate total rows per account over the five tables.
        accounts: account labels; by default each label is also its `X-TiliNimi`.
        credentials: per-account credentials overriding the generated ones.
        faults: fault injection at start (changeable at run time via /_sim/faults).
        forbidden_share: share of cost centres the account has no object right to.
        roles: per account, route template -> rights; missing accounts get `default_role()`.
        change_stream_per_s: random changes per second while the server runs (0 = off).
        webhook_retry_delays_s: wait before attempts 2..5 of a bundle.
        webhook_timeout_s: a listener slower than this counts as a failed attempt.
        webhook_interval_s: how often a running server looks for due bundles.
        contract: a contract variant that contradicts one [ASSUMED] fact
            (`contract_variants.VARIANTS`; changeable at run time via /_sim/contract).
    """

    seed: int = 1
    scale: int = 300
    accounts: tuple[str, ...] = ("demo-a",)
    credentials: Mapping[str, AccountCredentials] | None = None
    faults: FaultConfig | None = None
    forbidden_share: float = 0.0
    roles: Mapping[str, Mapping[str, frozenset[str]]] | None = None
    change_stream_per_s: float = 0.0
    webhook_retry_delays_s: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    webhook_timeout_s: float = 5.0
    webhook_interval_s: float = 0.5
    contract: str = "standard"

    def __post_init__(self) -> None:
        if not self.accounts:
            raise ValueError("at least one account is needed")
        if len(set(self.accounts)) != len(self.accounts):
            raise ValueError("account labels must be unique")
        if self.scale < 1:
            raise ValueError("scale must be positive")
        if not 0.0 <= self.forbidden_share < 1.0:
            raise ValueError("forbidden_share must be in [0, 1)")
