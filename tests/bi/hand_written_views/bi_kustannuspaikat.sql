-- bi.kustannuspaikat: active cost centres (housing companies and other managed units).
-- A cost centre's address is the property's public address, not personal data.
CREATE OR REPLACE VIEW bi.kustannuspaikat AS
SELECT
  k.account,
  k.id AS kustannuspaikka_id,
  k.nimi,
  k.y_tunnus,
  k.tyyppi,
  k.katuosoite,
  k.postinumero,
  k.postitoimipaikka,
  k.muokattu
FROM tampuuri.kustannuspaikat AS k
WHERE k.deleted_at IS NULL;
