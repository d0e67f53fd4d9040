"""Checks that every store's keyring must pass, run by each store's tests."""

from __future__ import annotations

import pytest

from warmcase_adapters.keyring import SessionKeys
from warmcase_adapters.postgres_store import PostgresKeyring
from warmcase_adapters.sqlite_store import SQLiteKeyring


def a_long_session_answers_as_single_lookups(
    keyring: SQLiteKeyring | PostgresKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its one-by-one lookups, a session reads the whole table once and still gives
    each subject its own key, and None for a subject with no key or a destroyed one."""
    monkeypatch.setattr(SessionKeys, "ONE_BY_ONE", 5)
    subjects = [f"household:H-{number:04d}" for number in range(20)]
    for subject in subjects[::2]:
        keyring.key_for(subject, create=True)
    assert keyring.destroy(subjects[4])
    with keyring.reading() as lookup:
        answers = {subject: lookup(subject) for subject in subjects}
        assert isinstance(lookup, SessionKeys)
        assert lookup.whole_table_read
    assert answers == {subject: keyring.key_for(subject, create=False) for subject in subjects}
    assert sum(key is not None for key in answers.values()) == 9
