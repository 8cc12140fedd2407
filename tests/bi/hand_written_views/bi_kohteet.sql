-- bi.kohteet: active objects of the object register (buildings, stairs, apartments,
-- saunas, storage, parking...), one row each. `lisatiedot` (free text that may name
-- people) and the raw item are left out.
CREATE OR REPLACE VIEW bi.kohteet AS
SELECT
  k.account,
  k.id AS kohde_id,
  k.parent_id,
  k.kustannuspaikka_id,
  k.metaname,
  k.nimi,
  k.tunnus,
  k.huoneistoala,
  k.huoneistotyyppi_id,
  k.muokattu
FROM tampuuri.kohteet AS k
WHERE k.deleted_at IS NULL;
