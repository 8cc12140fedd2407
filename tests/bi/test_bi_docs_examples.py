"""The example queries in docs/bi.md run against the bi views as the BI role reads them."""

from __future__ import annotations

import re

from sqlalchemy import text

from pipelines.settings import PROJECT_ROOT


def test_every_example_query_runs_as_a_bi_user(bi_user):
    markdown = (PROJECT_ROOT / "docs" / "bi.md").read_text(encoding="utf-8")
    examples = re.findall(r"```sql\n(.*?)```", markdown, re.S)
    assert len(examples) == 6
    with bi_user().connect() as conn:
        for query in examples:
            conn.execute(text(query)).all()
