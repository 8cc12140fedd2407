-- Rows a sync read but did not write because the stored version was newer (the loader's
-- freshness guard): reported per run next to inserted / updated / unchanged / deleted.
ALTER TABLE ops.sync_runs ADD COLUMN IF NOT EXISTS stale integer NOT NULL DEFAULT 0;
