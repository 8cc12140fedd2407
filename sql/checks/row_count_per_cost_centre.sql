-- Objects per cost centre as of that scope's last full scan, against the Total it saw.
-- Only scopes of cost centres still active: a deleted cost centre is not scanned again.
SELECT s.scope,
       s.last_total,
       s.last_full_scan_at,
       (SELECT count(*)
          FROM tampuuri.kohteet t
         WHERE t.account = s.account
           AND t.kustannuspaikka_id::text = s.scope
           AND t.first_seen_at <= s.last_full_scan_at
           AND (t.deleted_at IS NULL OR t.deleted_at > s.last_full_scan_at)
           AND (t.missing_since IS NULL OR t.missing_since > s.last_full_scan_at)
       ) AS active
  FROM ops.sync_state s
 WHERE s.account = :account
   AND s.resource = 'kohteet'
   AND s.scope <> ''
   AND s.last_total IS NOT NULL
   AND s.last_full_scan_at IS NOT NULL
   AND EXISTS (SELECT 1 FROM tampuuri.kustannuspaikat k
                WHERE k.account = s.account AND k.id::text = s.scope AND k.deleted_at IS NULL)
 ORDER BY s.scope
