"""The [ASSUMED] facts the doctor checks, and what one check found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Verdict = Literal["confirmed", "contradicted", "could not tell"]

# name -> the assumption as routes.yaml and tampuuri-api.md section 7 state it
ASSUMPTIONS: dict[str, str] = {
    "ascending_ids": "list rows come in ascending Id order",
    "limit_clamp": "a Limit above 250 is clamped to 250 and the envelope echoes it",
    "change_since": "the changed-since filter returns exactly the rows with Muokattu >= it",
    "total_stable": "Total stays the same between calls while nothing changes",
    "deleted_404": "the detail route of a deleted row answers 404",
    "batch_max_ids": "the batch route takes up to max_ids ids a call, and no more",
    "scope_filter": "a scope filter returns only the rows of that scope",
}


@dataclass(frozen=True)
class Finding:
    """What one probe found.

    Attributes:
        assumption: a key of `ASSUMPTIONS`.
        resource: the catalogue resource (or the route) probed; "" for API-wide facts.
        verdict: confirmed, contradicted or could not tell.
        evidence: what the API answered, in one or two sentences with the numbers.
        calls: calls this probe spent (shared first pages count for the first user).
        key: for a contradiction the product can act on, the routes.yaml key to correct.
        value: the corrected value (None with a key: remove the key).
        action: what the product now does, or what the operator must do.
    """

    assumption: str
    resource: str
    verdict: Verdict
    evidence: str
    calls: int = 0
    key: str | None = None
    value: Any = None
    action: str | None = None

    @property
    def topic(self) -> tuple[str, str]:
        """What was checked (one override entry per topic)."""
        return (self.assumption, self.resource)
