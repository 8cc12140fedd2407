-- Rows of one account-wide scope as the warehouse held them when the last full scan
-- committed, against the Total that scan saw. Point in time on purpose: incremental scans
-- since then add rows (and never see deletions), so "active rows now" would drift from
-- the last Total on a healthy warehouse. The scan's rows, its cursor and
-- last_full_scan_at are written in one transaction, so they share now().
-- {table} is a declared table's name, never a value.
SELECT s.scope,
       s.last_total,
       s.last_full_scan_at,
       (SELECT count(*)
          FROM tampuuri.{table} t
         WHERE t.account = s.account
           AND t.first_seen_at <= s.last_full_scan_at
           AND (t.deleted_at IS NULL OR t.deleted_at > s.last_full_scan_at)
           -- missed by a complete scan, deletion not yet confirmed: not in the API's Total
           AND (t.missing_since IS NULL OR t.missing_since > s.last_full_scan_at)
       ) AS active
  FROM ops.sync_state s
 WHERE s.account = :account
   AND s.resource = :resource
   AND s.scope = ''
   AND s.last_total IS NOT NULL
   AND s.last_full_scan_at IS NOT NULL
