-- tampuuri_bi: the read-only group role for BI users and dashboard tools.
--
-- It may read the views in schema bi and nothing else: no right on the mirrored tables
-- (schema tampuuri holds raw items with personal data, turvakielto addresses and
-- Tunnistautuminen), none on ops, none on public. The bi views run with their owner's
-- rights (security_invoker = false), so reading a view needs no right on its tables.
-- Give a person a login with: CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE tampuuri_bi;
--
-- Applied after sql/views/ on every upgrade, so views re-created there are granted again.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tampuuri_bi') THEN
    BEGIN
      CREATE ROLE tampuuri_bi NOLOGIN;
    EXCEPTION
      -- Roles are cluster-wide: an upgrade of another database on the same server may
      -- create it at the same moment (unique_violation when both insert at once).
      WHEN duplicate_object OR unique_violation THEN NULL;
      -- The migration user may lack CREATEROLE: the upgrade goes on without BI access.
      WHEN insufficient_privilege THEN
        RAISE WARNING 'role tampuuri_bi does not exist and cannot be created by %; '
          'ask a DBA to run: CREATE ROLE tampuuri_bi NOLOGIN; then run db upgrade again',
          current_user;
        RETURN;
    END;
  END IF;

  -- Least privilege, stated explicitly (rights granted by hand are taken back too).
  REVOKE ALL ON ALL TABLES IN SCHEMA tampuuri, ops, public FROM tampuuri_bi;
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA tampuuri, ops, public FROM tampuuri_bi;
  REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tampuuri, ops, public FROM tampuuri_bi;
  REVOKE ALL ON SCHEMA tampuuri, ops, public FROM tampuuri_bi;

  EXECUTE format('GRANT CONNECT ON DATABASE %I TO tampuuri_bi', current_database());
  GRANT USAGE ON SCHEMA bi TO tampuuri_bi;
  GRANT SELECT ON ALL TABLES IN SCHEMA bi TO tampuuri_bi;
END $$;
