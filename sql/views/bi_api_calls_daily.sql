-- bi.api_calls_daily: calls sent to Tampuuri per account and Helsinki calendar day (every
-- call is billed, failed ones too), the running count within the month, and what they
-- cost on the account's package (ops.account_packages; cost columns are NULL for an
-- account without a package row).
--
--   calls_month_to_date    cumulative calls from the 1st of the month to this day
--   included_calls_left    package calls still free after this day
--   overage_calls          calls of this day beyond the package's included calls
--   overage_cost_eur       overage_calls * overage_eur_per_call (euros, 2 decimals)
--   cost_month_to_date_eur monthly fee + all overage of the month up to this day
--
-- Months and days are Helsinki time (the billing time zone of config/accounts.yaml's
-- default). Days without calls have no row.
CREATE OR REPLACE VIEW bi.api_calls_daily AS
WITH daily AS (
  SELECT
    c.account,
    (c.sent_at AT TIME ZONE 'Europe/Helsinki')::date                AS day,
    count(*)                                                        AS calls,
    count(*) FILTER (WHERE c.status IS NULL OR c.status >= 400)     AS failed_calls
  FROM ops.api_calls AS c
  GROUP BY 1, 2
),
running AS (
  SELECT
    d.*,
    date_trunc('month', d.day)::date AS month,
    (sum(d.calls) OVER (PARTITION BY d.account, date_trunc('month', d.day)
                        ORDER BY d.day))::bigint AS calls_month_to_date
  FROM daily AS d
),
priced AS (
  SELECT
    r.*,
    p.package,
    p.included_calls,
    p.monthly_fee_eur,
    p.overage_eur_per_call,
    -- greatest() skips NULLs, so without a package row these would read 0, not unknown.
    CASE WHEN p.account IS NOT NULL THEN
      greatest(r.calls_month_to_date - p.included_calls, 0)
        - greatest(r.calls_month_to_date - r.calls - p.included_calls, 0)
    END AS overage_calls,
    CASE WHEN p.account IS NOT NULL THEN
      greatest(r.calls_month_to_date - p.included_calls, 0)
    END AS overage_month_to_date,
    CASE WHEN p.account IS NOT NULL THEN
      greatest(p.included_calls - r.calls_month_to_date, 0)
    END AS included_calls_left
  FROM running AS r
  LEFT JOIN ops.account_packages AS p ON p.account = r.account
)
SELECT
  account,
  day,
  month,
  calls,
  failed_calls,
  calls_month_to_date,
  package,
  included_calls,
  included_calls_left,
  overage_calls,
  round(overage_calls * overage_eur_per_call, 2)                         AS overage_cost_eur,
  round(monthly_fee_eur + overage_month_to_date * overage_eur_per_call, 2)
                                                                         AS cost_month_to_date_eur
FROM priced;
