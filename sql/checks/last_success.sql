-- When each scope of a resource last synced successfully. For the fan-out resource
-- (objects per cost centre) only scopes of active cost centres count.
SELECT s.scope, s.last_success_at
  FROM ops.sync_state s
 WHERE s.account = :account
   AND s.resource = :resource
   AND (s.scope = ''
        OR EXISTS (SELECT 1 FROM tampuuri.kustannuspaikat k
                    WHERE k.account = s.account AND k.id::text = s.scope
                      AND k.deleted_at IS NULL))
 ORDER BY s.scope
