-- The API package each account is on, so that BI views can price the call ledger.
-- The sync upserts one row per configured account from config/accounts.yaml and
-- config/packages.yaml; BI never reads config files. One current row per account: a
-- package change re-prices past months too (the ledger itself is never rewritten).
CREATE TABLE IF NOT EXISTS ops.account_packages (
  account               text          PRIMARY KEY,
  package               text          NOT NULL,   -- key in config/packages.yaml
  included_calls        bigint        NOT NULL CHECK (included_calls >= 0),
  monthly_fee_eur       numeric(12,2) NOT NULL CHECK (monthly_fee_eur >= 0),
  overage_eur_per_call  numeric(12,6) NOT NULL CHECK (overage_eur_per_call >= 0),
  updated_at            timestamptz   NOT NULL DEFAULT now()
);
