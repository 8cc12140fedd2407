-- A fan-out resource's rows per scope (the parent row its list was called for, e.g. a cost
-- centre) as of that scope's last full scan, against the Total it saw. Only scopes whose
-- parent is still active: a deleted parent is not scanned again.
-- {table}, {column} (the typed column holding each row's scope) and {parent} are a
-- declared table and column, never values.
SELECT s.scope,
       s.last_total,
       s.last_full_scan_at,
       (SELECT count(*)
          FROM tampuuri.{table} t
         WHERE t.account = s.account
           AND t.{column}::text = s.scope
           AND t.first_seen_at <= s.last_full_scan_at
           AND (t.deleted_at IS NULL OR t.deleted_at > s.last_full_scan_at)
           AND (t.missing_since IS NULL OR t.missing_since > s.last_full_scan_at)
       ) AS active
  FROM ops.sync_state s
 WHERE s.account = :account
   AND s.resource = :resource
   AND s.scope <> ''
   AND s.last_total IS NOT NULL
   AND s.last_full_scan_at IS NOT NULL
   AND EXISTS (SELECT 1 FROM tampuuri.{parent} k
                WHERE k.account = s.account AND k.id::text = s.scope AND k.deleted_at IS NULL)
 ORDER BY s.scope
