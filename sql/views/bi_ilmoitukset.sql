-- bi.ilmoitukset: active notices (fault reports, service requests, work orders).
--
-- Open = status is neither 'Tehty' (done) nor 'Valmis' (closed); an unknown or missing
-- status counts as open, so a new status value never hides work. For open notices,
-- age_days is whole days from creation to today, both as Helsinki calendar dates, and
-- age_bucket groups it (age_bucket_order sorts the buckets).
--
-- Left out on purpose: Otsikko and TyotehtavanKuvaus (free text: residents write names,
-- phone numbers and door codes into it) and IlmoittajaId (who reported a fault in which
-- apartment places that person there, which defeats turvakielto).
CREATE OR REPLACE VIEW bi.ilmoitukset AS
WITH base AS (
  SELECT
    i.*,
    coalesce(i.tila, '') NOT IN ('Tehty', 'Valmis') AS is_open,
    (now() AT TIME ZONE 'Europe/Helsinki')::date
      - (i.luotu AT TIME ZONE 'Europe/Helsinki')::date AS days_since_created
  FROM tampuuri.ilmoitukset AS i
  WHERE i.deleted_at IS NULL
)
SELECT
  b.account,
  b.id AS ilmoitus_id,
  b.kustannuspaikka_id,
  kp.nimi AS kustannuspaikka_nimi,
  b.huone_id,
  b.tila_id,
  b.tila,
  b.is_open,
  b.kiireellisyys,
  b.vikaluokka,
  b.kustannusarvio,
  b.tyonsuorittaja_id,
  b.luotu,
  b.muokattu,
  CASE WHEN b.is_open THEN b.days_since_created END AS age_days,
  CASE
    WHEN NOT b.is_open THEN NULL
    WHEN b.days_since_created IS NULL THEN 'unknown'
    WHEN b.days_since_created <= 7 THEN '0-7 days'
    WHEN b.days_since_created <= 30 THEN '8-30 days'
    WHEN b.days_since_created <= 90 THEN '31-90 days'
    ELSE '91+ days'
  END AS age_bucket,
  CASE
    WHEN NOT b.is_open THEN NULL
    WHEN b.days_since_created IS NULL THEN 5
    WHEN b.days_since_created <= 7 THEN 1
    WHEN b.days_since_created <= 30 THEN 2
    WHEN b.days_since_created <= 90 THEN 3
    ELSE 4
  END AS age_bucket_order
FROM base AS b
LEFT JOIN tampuuri.kustannuspaikat AS kp
  ON kp.account = b.account AND kp.id = b.kustannuspaikka_id AND kp.deleted_at IS NULL;
