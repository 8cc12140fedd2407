"""`budget --html` writes a self-contained page per account, checked in a real headless
browser (Debian's chromium): the rendered DOM holds the chart and the account's figures
(the JSON report of the same run), the page loads nothing from outside (every src/href is
a data: URI; no script, stylesheet link or frame), and the screenshot shows the chart's
bars. Skipped only when no chromium is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from pipelines.budget.cli import budget_command
from pipelines.budget.render import BAR_COLOUR

from .helpers import put_calls
from .test_cli import ACCOUNTS as ACME
from .test_cli import _app, use_accounts

ACCOUNTS = (
    ACME
    + """  - name: beta
    base_url: http://tampuuri.test/v10/api/
    package: normal
    webhooks: true
    budget: {on_drift: wait, full_scan_period_days: 30}
    credentials: {api_key: K, customer_name: C, account_name: A, username: U, password: P}
"""
)
CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no headless browser: `apt-get install -y chromium` to run this"
)


class _Page(HTMLParser):
    """Every tag, every attribute that can load something, and the visible text."""

    LOADING = frozenset({"src", "href", "srcset", "poster", "data", "action", "background"})

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.loads: list[tuple[str, str, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.loads += [(tag, k, v or "") for k, v in attrs if k in self.LOADING]
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _rendered(page: Path, profile: Path) -> _Page:
    dom = _chromium(f"--user-data-dir={profile}", "--dump-dom", page.as_uri()).stdout
    parsed = _Page()
    parsed.feed(dom)
    return parsed


def test_html_report_in_a_headless_browser(engine, warehouse_url, tmp_path, monkeypatch):
    use_accounts(ACCOUNTS, warehouse_url, tmp_path, monkeypatch)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        put_calls(conn, "acme", [(now, "GET", "kustannuspaikat/selaa", 200, "nightly", 5)])
        put_calls(conn, "acme", [(now, "GET", "kustannuspaikat/selaa", 503, "webhook", 2)])
        put_calls(conn, "beta", [(now, "POST", "kohteet/{kohde_id}/selaa", 200, "webhook", 3)])
    out = tmp_path / "reports"
    out.mkdir()
    result = CliRunner().invoke(_app(budget_command), ["--json", "--html", str(out)])
    assert result.exit_code == 0, result.output
    reports = {r["account"]: r for r in json.loads(result.output)["reports"]}
    assert {a: r["written"] for a, r in reports.items()} == {
        "acme": {"html": str(out / "acme.html")},
        "beta": {"html": str(out / "beta.html")},
    }

    for account, used, failed, by_trigger in [
        ("acme", 7, 2, ["nightly", "5", "webhook", "2"]),
        ("beta", 3, 0, ["webhook", "3"]),
    ]:
        report = reports[account]
        page = _rendered(out / f"{account}.html", tmp_path / "profile")
        text = "\n".join(page.text)
        assert f"Tampuuri API calls: {account}," in text
        # The figures of this account's report, as the browser shows them.
        assert page.text[page.text.index("calls so far") + 1].startswith(
            f"{used} ({failed} failed), "
        )
        forecast = page.text[page.text.index("forecast for the cycle") + 1]
        assert forecast.startswith(f"{report['projected']:,} calls by ")
        assert page.text[page.text.index("package runs out") + 1].startswith(
            "not this cycle" if report["runs_out_on"] is None else "on "
        )
        cheapest = page.text[page.text.index("cheapest package that fits") + 1]
        assert cheapest.split(" (")[0] == report["cheapest_package"].capitalize()
        trigger_table = page.text[page.text.index("Calls by trigger") + 3 :]
        assert trigger_table[: len(by_trigger)] == by_trigger
        # The chart, and nothing loaded from outside the file.
        (chart,) = [i for i in page.images if i.get("id") == "chart"]
        assert str(chart["src"]).startswith("data:image/png;base64,")
        assert [v for _, _, v in page.loads if not v.startswith("data:")] == []
        assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    assert "budget.on_drift" in text and "wait" in text  # beta's settings

    shot = tmp_path / "acme.png"
    _chromium(
        f"--user-data-dir={tmp_path / 'profile'}",
        "--hide-scrollbars",
        "--window-size=1100,1000",
        f"--screenshot={shot}",
        (out / "acme.html").as_uri(),
    )
    bar = tuple(int(BAR_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    pixels = Image.open(shot).convert("RGB").getdata()
    assert sum(1 for p in pixels if p == bar) > 1000  # today's bar, drawn by the browser
