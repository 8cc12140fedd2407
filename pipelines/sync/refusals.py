"""What a resource run reports when the API refuses it with 403 (docs/ARCHITECTURE.md,
"403: a route or an object").

- The route refused as a whole (`errors.TampuuriRouteForbidden`: the API user's role lacks
  its right): `forbidden`, or `not_licensed` when the account's config lists the resource
  under `not_licensed` (then the refusal is expected and counts as ok).
- Every scope of a resource refused for object rights: nothing was readable, so it is
  `forbidden` too, whichever right is missing (never a `success` with no rows).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipelines.settings import AccountConfig
from pipelines.sync.report import ResourceReport
from pipelines.sync.scans import table_resource
from pipelines.sync.scope_scan import ScopeScan
from pipelines.tampuuri.errors import TampuuriRouteForbidden, needed_right

log = logging.getLogger(__name__)


def mark_refused(
    account: AccountConfig, report: ResourceReport, refusal: TampuuriRouteForbidden
) -> None:
    """`not_licensed` when the account's config expects the refusal, else `forbidden`."""
    expected = {report.resource, table_resource(report.resource)} & set(account.not_licensed)
    if expected:
        report.status = "not_licensed"
        report.error = refusal.not_licensed_sentence(report.resource)
        log.info("%s", report.error)
    else:
        report.status = "forbidden"
        report.error = refusal.sentence(report.resource)
        log.error("%s", report.error)


def mark_all_scopes_refused(
    account: str, report: ResourceReport, scans: Sequence[ScopeScan]
) -> None:
    """Every scope answered 403 for an object right: one sentence, status `forbidden`."""
    route = scans[0].route
    report.status = "forbidden"
    report.error = (
        f"account {account!r}: every one of the {len(scans)} scope(s) of {report.resource}"
        f" answered 403 on {route.method} {route.template}, so nothing of {report.resource}"
        " was read: the API user has no object right (kohdeoikeus) to any of them, or its"
        f" role lacks the {needed_right(route.method, route.template)} right on the route."
    )
    log.error("%s", report.error)
