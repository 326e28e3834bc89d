"""portal.sql.among: a column among a list of values, one array parameter on PostgreSQL (issue 14), a plain IN
elsewhere; the same answers either way, and one cached statement whatever the list's length."""

from __future__ import annotations

from sqlalchemy import event, select

from portal.extensions import db
from portal.projects.models import Resource
from portal.sql import among
from tests.factories import ResourceFactory


def test_among_finds_the_listed_rows_with_one_statement_text_for_any_length(session):
    people = [ResourceFactory(name=f"Among {n}") for n in range(5)]
    session.flush()
    texts: list[str] = []

    def seen(_conn, _cursor, statement, *_):
        texts.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        two = set(session.scalars(select(Resource.name).where(among(Resource.id, [people[0].id, people[3].id]))))
        four = set(session.scalars(select(Resource.name).where(among(Resource.id, [p.id for p in people[1:]]))))
        none = list(session.scalars(select(Resource.name).where(among(Resource.id, []))))
        names = set(session.scalars(select(Resource.name).where(among(Resource.name, ["Among 2", "Nobody"]))))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert two == {"Among 0", "Among 3"} and four == {"Among 1", "Among 2", "Among 3", "Among 4"}
    assert none == [] and names == {"Among 2"}
    if db.engine.dialect.name == "postgresql":
        assert texts[0] == texts[1] and "ANY" in texts[0] and " IN " not in texts[0]
