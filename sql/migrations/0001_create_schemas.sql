-- Schemas: tampuuri (mirrored data, a public contract for BI users), ops (run bookkeeping),
-- bi (dashboard views, re-created from sql/views on every upgrade).
CREATE SCHEMA IF NOT EXISTS tampuuri;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS bi;

-- Lenient casts: a value the API sends in an unexpected shape becomes NULL in the typed
-- column; the item itself is always kept verbatim in `data`.
CREATE OR REPLACE FUNCTION ops.to_numeric(value text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN value ~ '^\s*-?[0-9]+([.,][0-9]+)?\s*$'
              THEN replace(trim(value), ',', '.')::numeric END
$$;

CREATE OR REPLACE FUNCTION ops.to_bigint(value text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN value ~ '^\s*-?[0-9]{1,18}\s*$' THEN trim(value)::bigint END
$$;

CREATE OR REPLACE FUNCTION ops.to_boolean(value text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE lower(trim(value)) WHEN 'true' THEN true WHEN 'false' THEN false END
$$;

-- Timestamps arrive as ISO 8601 with 7 fractional digits and a Helsinki offset; without an
-- offset (ASP.NET DateTime) they are Helsinki wall-clock time.
CREATE OR REPLACE FUNCTION ops.to_timestamptz(value text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN value ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$'
      THEN value::timestamptz
    WHEN value ~ '^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?$'
      THEN (value::timestamp AT TIME ZONE 'Europe/Helsinki')
  END
$$;

CREATE OR REPLACE FUNCTION ops.to_date(value text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN value ~ '^\d{4}-\d{2}-\d{2}' THEN left(value, 10)::date END
$$;

-- ---------------------------------------------------------------------------------------
-- Mirrored resources. Common columns on every table:
--   account, id       natural key (account name as configured, the API's Id)
--   data              the item exactly as received, unknown fields included
--   row_hash          md5 of the canonical JSON of `data`; unchanged rows are not rewritten
--   first_seen_at     when the row first reached the warehouse
--   synced_at         when a sync last wrote the row (unchanged rows are not rewritten:
--                     how fresh a whole scope is lives in ops.sync_state)
--   changed_at        when the row's content last changed in the warehouse
--   deleted_at        soft delete: set once a complete scan missed the row and the
--                     absence was confirmed (404 or a second scan)
--   missing_since     internal: a complete scan missed the row, not yet confirmed
-- ---------------------------------------------------------------------------------------
CREATE TABLE tampuuri.kustannuspaikat (
  account          text        NOT NULL,
  id               bigint      NOT NULL,
  nimi             text,
  y_tunnus         text,
  tyyppi           text,
  katuosoite       text,
  postinumero      text,
  postitoimipaikka text,
  muokattu         timestamptz,
  data             jsonb       NOT NULL,
  row_hash         text        NOT NULL,
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  synced_at        timestamptz NOT NULL DEFAULT now(),
  changed_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  missing_since    timestamptz,
  PRIMARY KEY (account, id)
);

CREATE TABLE tampuuri.kohteet (
  account            text        NOT NULL,
  id                 bigint      NOT NULL,
  parent_id          bigint,
  kustannuspaikka_id bigint,
  metaname           text,
  nimi               text,
  tunnus             text,
  huoneistoala       numeric,
  huoneistotyyppi_id integer,
  lisatiedot         text,
  muokattu           timestamptz,
  data               jsonb       NOT NULL,
  row_hash           text        NOT NULL,
  first_seen_at      timestamptz NOT NULL DEFAULT now(),
  synced_at          timestamptz NOT NULL DEFAULT now(),
  changed_at         timestamptz NOT NULL DEFAULT now(),
  deleted_at         timestamptz,
  missing_since      timestamptz,
  PRIMARY KEY (account, id)
);
CREATE INDEX kohteet_scope_idx ON tampuuri.kohteet (account, kustannuspaikka_id);

CREATE TABLE tampuuri.osapuolet (
  account          text        NOT NULL,
  id               bigint      NOT NULL,
  yritys_id        bigint,
  nimi             text,
  osapuolityyppi   text,
  turvakielto      boolean,
  sahkoposti       text,
  puhelin          text,
  katuosoite       text,
  postinumero      text,
  postitoimipaikka text,
  data             jsonb       NOT NULL,
  row_hash         text        NOT NULL,
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  synced_at        timestamptz NOT NULL DEFAULT now(),
  changed_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  missing_since    timestamptz,
  PRIMARY KEY (account, id)
);

CREATE TABLE tampuuri.osapuoli_yhteydet (
  account        text        NOT NULL,
  id             bigint      NOT NULL,
  osapuoli_id    bigint,
  kohde_id       bigint,
  rooli          text,
  alkupvm        date,
  loppupvm       date,
  data           jsonb       NOT NULL,
  row_hash       text        NOT NULL,
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  synced_at      timestamptz NOT NULL DEFAULT now(),
  changed_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz,
  missing_since  timestamptz,
  PRIMARY KEY (account, id)
);
CREATE INDEX osapuoli_yhteydet_kohde_idx ON tampuuri.osapuoli_yhteydet (account, kohde_id);
CREATE INDEX osapuoli_yhteydet_osapuoli_idx ON tampuuri.osapuoli_yhteydet (account, osapuoli_id);

CREATE TABLE tampuuri.ilmoitukset (
  account             text        NOT NULL,
  id                  bigint      NOT NULL,
  kustannuspaikka_id  bigint,
  tila_id             integer,
  huone_id            bigint,
  otsikko             text,
  tyotehtavan_kuvaus  text,
  tila                text,
  kiireellisyys       text,
  vikaluokka          text,
  kustannusarvio      numeric,
  tyonsuorittaja_id   bigint,
  ilmoittaja_id       bigint,
  luotu               timestamptz,
  muokattu            timestamptz,
  data                jsonb       NOT NULL,
  row_hash            text        NOT NULL,
  first_seen_at       timestamptz NOT NULL DEFAULT now(),
  synced_at           timestamptz NOT NULL DEFAULT now(),
  changed_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz,
  missing_since       timestamptz,
  PRIMARY KEY (account, id)
);
CREATE INDEX ilmoitukset_scope_idx ON tampuuri.ilmoitukset (account, kustannuspaikka_id);

-- One history table per resource: one row per version of a row. The open version has
-- valid_to NULL; a soft delete closes it and records deleted = true on a final version.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['kustannuspaikat','kohteet','osapuolet','osapuoli_yhteydet','ilmoitukset']
  LOOP
    EXECUTE format($f$
      CREATE TABLE tampuuri.%1$I (
        account     text        NOT NULL,
        id          bigint      NOT NULL,
        valid_from  timestamptz NOT NULL,
        valid_to    timestamptz,
        deleted     boolean     NOT NULL DEFAULT false,
        row_hash    text        NOT NULL,
        data        jsonb       NOT NULL,
        run_id      text
      )$f$, t || '_history');
    EXECUTE format('CREATE INDEX %1$I ON tampuuri.%2$I (account, id, valid_from)',
                   t || '_history_key_idx', t || '_history');
    EXECUTE format('CREATE UNIQUE INDEX %1$I ON tampuuri.%2$I (account, id) WHERE valid_to IS NULL',
                   t || '_history_open_idx', t || '_history');
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------
-- ops: the call ledger, runs, cursors
-- ---------------------------------------------------------------------------------------
-- Every HTTP request sent to Tampuuri (retries and failures too: Tampuuri bills them).
CREATE TABLE ops.api_calls (
  call_id      bigserial   PRIMARY KEY,
  account      text        NOT NULL,
  sent_at      timestamptz NOT NULL,
  method       text        NOT NULL,
  route        text        NOT NULL,     -- the route template, e.g. kohteet/{kohde_id}/selaa
  status       integer,                  -- NULL: transport error (timeout, reset)
  duration_ms  integer     NOT NULL,
  trigger      text        NOT NULL,     -- nightly, manual, webhook, reconcile, probe, ...
  run_id       text
);
CREATE INDEX api_calls_account_sent_idx ON ops.api_calls (account, sent_at);
CREATE INDEX api_calls_run_idx ON ops.api_calls (run_id);

-- One row per run and resource.
CREATE TABLE ops.sync_runs (
  run_id        text        NOT NULL,
  account       text        NOT NULL,
  resource      text        NOT NULL,
  trigger       text        NOT NULL,
  mode          text        NOT NULL,   -- incremental, full, targeted, reconcile
  status        text        NOT NULL,   -- running, success, partial, failed, deferred
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  inserted      integer     NOT NULL DEFAULT 0,
  updated       integer     NOT NULL DEFAULT 0,
  unchanged     integer     NOT NULL DEFAULT 0,
  deleted       integer     NOT NULL DEFAULT 0,
  pages         integer     NOT NULL DEFAULT 0,
  calls         integer     NOT NULL DEFAULT 0,
  retries       integer     NOT NULL DEFAULT 0,
  skipped       jsonb       NOT NULL DEFAULT '[]'::jsonb,  -- objects not readable (403)
  new_fields    jsonb       NOT NULL DEFAULT '[]'::jsonb,  -- item keys the typed columns lack
  error         text,
  PRIMARY KEY (run_id, account, resource)
);
CREATE INDEX sync_runs_account_resource_idx ON ops.sync_runs (account, resource, started_at);

-- Per account, resource and scope ('' for account-wide scans; a cost-centre id for
-- fan-out scans): the change-since cursor and what the last complete scan saw.
CREATE TABLE ops.sync_state (
  account             text        NOT NULL,
  resource            text        NOT NULL,
  scope               text        NOT NULL DEFAULT '',
  cursor              timestamptz,
  last_total          bigint,
  last_full_scan_at   timestamptz,
  last_success_at     timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account, resource, scope)
);

-- ---------------------------------------------------------------------------------------
-- Webhooks: the durable inbox the receiver commits to before it answers 2xx.
-- ---------------------------------------------------------------------------------------
CREATE TABLE ops.webhook_inbox (
  event_id                bigserial   PRIMARY KEY,
  dedup_key               text        NOT NULL UNIQUE,  -- hash over the notification's fields
  account                 text        NOT NULL,
  action                  text        NOT NULL,
  reference_id            bigint,
  reference_secondary_id  bigint,
  reference_data          text,
  reference_json          text,
  event_timestamp         timestamptz,
  received_at             timestamptz NOT NULL DEFAULT now(),
  attempts_seen           integer     NOT NULL DEFAULT 1,
  status                  text        NOT NULL DEFAULT 'pending', -- pending, done, failed, dead, unknown
  tries                   integer     NOT NULL DEFAULT 0,
  next_try_at             timestamptz,
  run_id                  text,
  processed_at            timestamptz,
  error                   text
);
CREATE INDEX webhook_inbox_pending_idx ON ops.webhook_inbox (status, event_id);

CREATE TABLE ops.webhook_dead_letters (
  dead_letter_id  bigserial   PRIMARY KEY,
  received_at     timestamptz NOT NULL DEFAULT now(),
  reason          text        NOT NULL,
  payload         text        NOT NULL,
  event_id        bigint      -- set when a stored event was dead-lettered after failed retries
);
