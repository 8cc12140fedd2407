-- How far the product has loosened each account's spending profile (pipelines/profiles/):
-- one row per change, the latest row per account is its current state. Level 0 is the
-- profile as written; each level widens the webhook window and stretches reconciliation
-- towards the profile's adaptive limits. The reason says why, with the numbers.
CREATE TABLE IF NOT EXISTS ops.profile_adjustments (
    adjustment_id bigserial PRIMARY KEY,
    account text NOT NULL,
    profile text NOT NULL,
    level integer NOT NULL CHECK (level >= 0),
    webhook_window_s double precision NOT NULL CHECK (webhook_window_s >= 0),
    reconcile_stretch double precision NOT NULL CHECK (reconcile_stretch >= 1),
    forecast_calls bigint NOT NULL,
    package_calls bigint NOT NULL,
    reason text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS profile_adjustments_account_changed
    ON ops.profile_adjustments (account, changed_at DESC, adjustment_id DESC);
