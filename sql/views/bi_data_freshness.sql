-- bi.data_freshness: per account and resource, how fresh the warehouse copy is.
--
--   last_success_at          the latest successful sync of the resource (any scope):
--                            ops.sync_state.last_success_at or a successful ops.sync_runs
--   stalest_scope_success_at for fan-out resources (kohteet: one scope per cost centre)
--                            the oldest scope's last success: the data is only as fresh
--                            as its stalest part; scopes_never_synced counts the rest
--   age_hours                hours since last_success_at (1 decimal)
--   last_run_*               the most recent run, whatever its outcome
--   active_rows              rows in the tampuuri table with deleted_at NULL
--
-- Parties arrive nested in the links, so the sync keeps the state of `osapuolet` under
-- `osapuoli_yhteydet`; the osapuolet row uses the links' state when it has none itself.
CREATE OR REPLACE VIEW bi.data_freshness AS
WITH active AS (
  SELECT account, 'kustannuspaikat'::text AS resource, count(*) AS active_rows
  FROM tampuuri.kustannuspaikat WHERE deleted_at IS NULL GROUP BY account
  UNION ALL
  SELECT account, 'kohteet', count(*)
  FROM tampuuri.kohteet WHERE deleted_at IS NULL GROUP BY account
  UNION ALL
  SELECT account, 'osapuolet', count(*)
  FROM tampuuri.osapuolet WHERE deleted_at IS NULL GROUP BY account
  UNION ALL
  SELECT account, 'osapuoli_yhteydet', count(*)
  FROM tampuuri.osapuoli_yhteydet WHERE deleted_at IS NULL GROUP BY account
  UNION ALL
  SELECT account, 'ilmoitukset', count(*)
  FROM tampuuri.ilmoitukset WHERE deleted_at IS NULL GROUP BY account
),
state AS (
  SELECT
    account,
    resource,
    max(last_success_at)                           AS last_success_at,
    min(last_success_at)                           AS stalest_scope_success_at,
    count(*)                                       AS scopes,
    count(*) FILTER (WHERE last_success_at IS NULL) AS scopes_never_synced,
    max(last_full_scan_at)                         AS last_full_scan_at
  FROM ops.sync_state
  GROUP BY account, resource
),
run_success AS (
  SELECT account, resource, max(finished_at) AS finished_at
  FROM ops.sync_runs
  WHERE status = 'success'
  GROUP BY account, resource
),
last_run AS (
  SELECT DISTINCT ON (account, resource)
    account, resource, status, mode, trigger, started_at, finished_at
  FROM ops.sync_runs
  ORDER BY account, resource, started_at DESC
),
keys AS (
  SELECT account, resource FROM active
  UNION
  SELECT account, resource FROM state
  UNION
  SELECT account, resource FROM last_run
),
resolved AS (
  -- The resource whose state and runs describe this row (see the header).
  SELECT
    k.account,
    k.resource,
    CASE
      WHEN k.resource = 'osapuolet'
        AND NOT EXISTS (SELECT 1 FROM state AS s
                        WHERE s.account = k.account AND s.resource = 'osapuolet')
        AND NOT EXISTS (SELECT 1 FROM last_run AS r
                        WHERE r.account = k.account AND r.resource = 'osapuolet')
      THEN 'osapuoli_yhteydet'
      ELSE k.resource
    END AS state_resource
  FROM keys AS k
)
SELECT
  r.account,
  r.resource,
  greatest(s.last_success_at, rs.finished_at)  AS last_success_at,
  s.stalest_scope_success_at,
  round(extract(epoch FROM now() - greatest(s.last_success_at, rs.finished_at)) / 3600, 1)
                                               AS age_hours,
  coalesce(s.scopes, 0)                        AS scopes,
  coalesce(s.scopes_never_synced, 0)           AS scopes_never_synced,
  s.last_full_scan_at,
  lr.status                                    AS last_run_status,
  lr.mode                                      AS last_run_mode,
  lr.trigger                                   AS last_run_trigger,
  lr.started_at                                AS last_run_started_at,
  lr.finished_at                               AS last_run_finished_at,
  coalesce(a.active_rows, 0)                   AS active_rows
FROM resolved AS r
LEFT JOIN state AS s ON s.account = r.account AND s.resource = r.state_resource
LEFT JOIN run_success AS rs ON rs.account = r.account AND rs.resource = r.state_resource
LEFT JOIN last_run AS lr ON lr.account = r.account AND lr.resource = r.state_resource
LEFT JOIN active AS a ON a.account = r.account AND a.resource = r.resource;
