-- bi.api_calls_by_route_daily: the call ledger per account, Helsinki day, route template
-- and trigger (nightly, manual, webhook, ...): where the calls go. Mirrors the shape of
-- Tampuuri's own transaction report.
CREATE OR REPLACE VIEW bi.api_calls_by_route_daily AS
SELECT
  c.account,
  (c.sent_at AT TIME ZONE 'Europe/Helsinki')::date             AS day,
  c.method,
  c.route,
  c.trigger,
  count(*)                                                     AS calls,
  count(*) FILTER (WHERE c.status IS NULL OR c.status >= 400)  AS failed_calls,
  count(*) FILTER (WHERE c.status = 429)                       AS rate_limited_calls,
  round(avg(c.duration_ms))::integer                           AS avg_duration_ms
FROM ops.api_calls AS c
GROUP BY 1, 2, 3, 4, 5;
