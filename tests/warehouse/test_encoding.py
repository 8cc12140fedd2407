"""Joining encoded pages: what the sync's stager sends as one COPY equals the pages'."""

import pytest

from pipelines.warehouse.encoding import encode_page, join_pages
from pipelines.warehouse.tables import TABLES
from tests.warehouse.test_loader import kohde


def test_joined_pages_keep_their_order_rows_and_keys():
    first = encode_page(TABLES["kohteet"], [kohde(2), kohde(1)])
    second = encode_page(TABLES["kohteet"], [kohde(2, nimi="again", Uusi=1)])
    joined = join_pages([first, second])
    assert joined.table == "kohteet"
    assert joined.lines == first.lines + second.lines
    assert joined.lines.count(b"\n") == joined.rows == 3
    assert joined.keys == first.keys | {"Uusi"}
    assert join_pages([first]) is first


def test_pages_of_different_tables_are_not_joined():
    notice = encode_page(TABLES["ilmoitukset"], [{"Id": 1}])
    with pytest.raises(ValueError, match="ilmoitukset"):
        join_pages([encode_page(TABLES["kohteet"], [kohde(1)]), notice])
