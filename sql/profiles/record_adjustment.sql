-- One change of an account's profile adjustment, with why.
INSERT INTO ops.profile_adjustments
    (account, profile, level, webhook_window_s, reconcile_stretch, forecast_calls,
     package_calls, reason, changed_at)
VALUES
    (:account, :profile, :level, :webhook_window_s, :reconcile_stretch, :forecast_calls,
     :package_calls, :reason, :changed_at)
