-- Each account's current profile adjustment: its latest change.
SELECT DISTINCT ON (account)
    account, profile, level, webhook_window_s, reconcile_stretch, forecast_calls,
    package_calls, reason, changed_at
FROM ops.profile_adjustments
WHERE account = ANY(:accounts)
ORDER BY account, changed_at DESC, adjustment_id DESC
