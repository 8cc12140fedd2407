-- Every ops.sync_state row of one account: what a call plan knows of each scope.
SELECT resource, scope, cursor, last_total, last_full_scan_at
  FROM ops.sync_state
 WHERE account = :account
