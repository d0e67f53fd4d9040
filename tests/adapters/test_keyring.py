"""Keys of one session: one query per subject at first, the whole table once past that."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from warmcase_adapters.keyring import SessionKeys

subjects = st.sampled_from([f"household:H-{number}" for number in range(12)])


@given(
    st.dictionaries(subjects, st.binary(min_size=1, max_size=4)),
    st.lists(subjects, max_size=40),
    st.integers(0, 10),
)
def test_answers_are_the_tables_however_many_are_asked(
    table: dict[str, bytes], asked: list[str], one_by_one: int
) -> None:
    """Every answer is the table's (None for a subject not in it); at most `ONE_BY_ONE`
    subjects are looked up alone, and the whole table is read at most once, only when more
    were asked for."""
    singles: list[str] = []
    wholes: list[int] = []

    def one(subject: str) -> bytes | None:
        singles.append(subject)
        return table.get(subject)

    def every() -> list[tuple[str, bytes]]:
        wholes.append(1)
        return list(table.items())

    session = SessionKeys(one, every)
    session.ONE_BY_ONE = one_by_one
    assert [session(subject) for subject in asked] == [table.get(subject) for subject in asked]
    assert singles == asked[:one_by_one]
    assert len(wholes) == (1 if len(asked) > one_by_one else 0)
    assert session.whole_table_read == bool(wholes)
