-- bi.open_notices: open notices counted per cost centre and age bucket (see
-- bi.ilmoitukset for what "open" and the buckets mean). Only buckets that hold at least
-- one notice appear.
CREATE OR REPLACE VIEW bi.open_notices AS
SELECT
  n.account,
  n.kustannuspaikka_id,
  n.kustannuspaikka_nimi,
  n.age_bucket,
  n.age_bucket_order,
  count(*)         AS open_notices,
  min(n.luotu)     AS oldest_luotu,
  max(n.age_days)  AS max_age_days
FROM bi.ilmoitukset AS n
WHERE n.is_open
GROUP BY n.account, n.kustannuspaikka_id, n.kustannuspaikka_nimi, n.age_bucket,
         n.age_bucket_order;
