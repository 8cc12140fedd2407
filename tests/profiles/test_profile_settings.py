"""Profiles as settings: an account names one and overrides its parts; what applies is the
profile, then the overrides, then the account's own `budget:` keys; a wrong name, key or
value (in the accounts file or in profiles.yaml) is one ConfigError naming file and key path.
"""

from __future__ import annotations

import pytest
import yaml

from pipelines.settings import ConfigError, load_accounts
from pipelines.settings.profiles import load_profiles

CREDS = {k: k.upper() for k in ("api_key", "customer_name", "account_name", "username", "password")}


def _load(tmp_path, *accounts: dict):
    path = tmp_path / "accounts.yaml"
    documents = [
        {"name": f"acc-{i}", "base_url": "http://tampuuri.test/v10/api/", "credentials": CREDS, **a}
        for i, a in enumerate(accounts)
    ]
    path.write_text(yaml.safe_dump({"accounts": documents}), encoding="utf-8")
    return path, load_accounts({"TAMPUURI_ACCOUNTS_FILE": str(path)})


def test_an_account_takes_its_profile_then_its_overrides_then_its_budget_keys(tmp_path):
    _, (plain, frugal, tuned) = _load(
        tmp_path,
        {},
        {"profile": "frugal"},
        {
            "profile": "frugal",
            "profile_overrides": {
                "webhook_window_s": 900,
                "reconcile_every_days": {"ilmoitukset": 7},
                "reserve_for_webhooks": 0.3,
                "adaptive": {"max_webhook_window_s": 7200},
            },
            "budget": {"reserve_for_webhooks": 0.5},
        },
    )
    assert plain.profile == "default" and plain.effective_profile == load_profiles()["default"]
    assert (plain.budget.full_scan_period_days, plain.budget.on_drift) == (7, "locate")
    assert frugal.effective_profile.webhook_window_s == 3600
    assert (frugal.budget.full_scan_period_days, frugal.budget.list_rescan_period_days) == (30, 30)
    assert (frugal.budget.on_drift, frugal.budget.reserve_for_webhooks) == ("wait", 0.6)
    profile = tuned.effective_profile
    assert profile.webhook_window_s == 900
    assert profile.reconcile_every_days == {"kustannuspaikat": 1, "osapuolet": 1, "ilmoitukset": 7}
    assert profile.adaptive.max_webhook_window_s == 7200 and profile.adaptive.steps == 4
    assert tuned.budget.reserve_for_webhooks == 0.5 == profile.reserve_for_webhooks  # budget wins
    assert tuned.budget.full_scan_period_days == 30


def test_an_account_written_back_reads_the_same(tmp_path):
    _, (tuned,) = _load(
        tmp_path, {"profile": "frugal", "profile_overrides": {"webhook_window_s": 900}}
    )
    _, (again,) = _load(tmp_path, tuned.model_dump(mode="json", exclude={"name"}))
    assert again.model_dump(exclude={"name"}) == tuned.model_dump(exclude={"name"})
    assert again.effective_profile == tuned.effective_profile


@pytest.mark.parametrize(
    ("account", "problem"),
    [
        (
            {"profile": "frugl"},
            "accounts[0].profile: 'frugl' is not one of realtime, default, frugal",
        ),
        ({"profile": 3}, "accounts[0].profile: must be a string, got 3"),
        (
            {"profile_overrides": {"window": 60}},
            "accounts[0].profile_overrides.window: unknown key",
        ),
        (
            {"profile_overrides": {"webhook_window_s": "fast"}},
            "accounts[0].profile_overrides.webhook_window_s: must be a number, got 'fast'",
        ),
        (
            {"profile_overrides": {"webhook_window_s": -1}},
            "accounts[0].profile_overrides.webhook_window_s: must be at least 0, got -1",
        ),
        (
            {"profile_overrides": {"reconcile_every_days": {"kohteet": 2}}},
            "accounts[0].profile_overrides.reconcile_every_days.kohteet: 'kohteet' is not one of"
            " kustannuspaikat, osapuolet, ilmoitukset",
        ),
        (
            {"profile_overrides": {"reconcile_every_days": {"osapuolet": 0}}},
            "accounts[0].profile_overrides.reconcile_every_days.osapuolet: must be greater than"
            " 0, got 0",
        ),
        (
            {"profile_overrides": {"adaptive": {"tighten_below": 1.5}}},
            "accounts[0].profile_overrides.adaptive.tighten_below: must be at most 1, got 1.5",
        ),
        (
            {"profile": "frugal", "profile_overrides": {"webhook_window_s": 20000}},
            "accounts[0].profile_overrides.adaptive.max_webhook_window_s: must be at least"
            " webhook_window_s (20000), got 14400",
        ),
    ],
)
def test_a_wrong_profile_or_override_names_the_file_and_key(tmp_path, account, problem):
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, account)
    assert str(raised.value) == f"{tmp_path / 'accounts.yaml'}: {problem}"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"profiles": {"frugal": {}}}, "profiles: must define 'default' (accounts naming none)"),
        ({"profiles": {"default": {"freshness": 60}}}, "profiles.default.freshness: unknown key"),
        (
            {"profiles": {"default": {"webhook_window_s": 1000}}},
            "profiles.default.adaptive.max_webhook_window_s: must be at least webhook_window_s"
            " (1000), got 900",
        ),
        (
            {"profiles": {"default": {"adaptive": {"max_reconcile_stretch": 0.5}}}},
            "profiles.default.adaptive.max_reconcile_stretch: must be at least 1, got 0.5",
        ),
        (
            {"profiles": {"default": {"on_drift": "ignore"}}},
            "profiles.default.on_drift: 'ignore' is not one of locate, wait",
        ),
    ],
)
def test_a_wrong_profiles_file_names_the_file_and_key(tmp_path, document, problem):
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_profiles(path)
    assert str(raised.value) == f"{path}: {problem}"


def test_the_shipped_profiles_load():
    profiles = load_profiles()
    assert list(profiles) == ["realtime", "default", "frugal"]
    windows = [(p.webhook_window_s, p.adaptive.max_webhook_window_s) for p in profiles.values()]
    assert windows == [(0, 60), (0, 900), (3600, 14400)]
