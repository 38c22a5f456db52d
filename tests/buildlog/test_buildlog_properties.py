"""Property tests: records survive JSON, database rows and export rows unchanged."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from buildlog.backends.rows import from_row, to_row
from buildlog.export import export_row, table_spec
from buildlog.project import (
    project_id_from_remote,
    redact_credentials,
    remote_alias,
    strip_credentials,
)
from buildlog.records import Mistake, RewardEvent, parse_record, record_to_dict

text = st.text(max_size=20)
optional_text = st.none() | text
words = st.lists(text, max_size=4)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)

rewards = st.builds(
    RewardEvent,
    id=text,
    timestamp=text,
    outcome=st.sampled_from(["accepted", "revision", "rejected"]),
    reward_value=unit,
    rules_active=words,
    revision_distance=st.none() | unit,
    error_class=optional_text,
    notes=optional_text,
    source=optional_text,
    session_id=optional_text,
)
mistakes = st.builds(
    Mistake,
    id=text,
    session_id=text,
    timestamp=text,
    error_class=text,
    description=text,
    semantic_hash=text,
    was_repeat=st.booleans(),
    corrected_by_rule=optional_text,
    related_concepts=st.none() | words | text,
    rules_consulted=st.none() | words | text,
    severity=optional_text,
)


@given(st.one_of(rewards, mistakes))
def test_records_round_trip(record: RewardEvent | Mistake) -> None:
    cls = type(record)
    assert parse_record(cls, json.loads(json.dumps(record_to_dict(record)))) == record
    stored = from_row(cls, to_row(record, project_id="p"))
    if cls is Mistake:
        # Stored as the original stores them: a list as JSON text; NULL and text as they are.
        for name in ("related_concepts", "rules_consulted"):
            value = getattr(record, name)
            assert getattr(stored, name) == (
                json.dumps(value) if isinstance(value, list) else value
            )
            setattr(stored, name, value)
    assert stored == record
    name = "rewards" if cls is RewardEvent else "mistakes"
    exported = json.loads(json.dumps(export_row(table_spec(name), record)))
    assert parse_record(cls, exported) == record


@given(
    user=st.text("abcdefghij:", min_size=1, max_size=12),
    host=st.sampled_from(["github.com", "gitlab.example:8443"]),
    path=st.text("abc/-_.", min_size=1, max_size=15),
)
def test_credentials_never_change_an_https_alias(user: str, host: str, path: str) -> None:
    clean = f"https://{host}/{path}"
    with_secret = f"https://{user}@{host}/{path}"
    assert strip_credentials(with_secret) == clean
    # The id is the original's (credentials count); the alias is the clean URL's id.
    assert remote_alias(with_secret) == project_id_from_remote(clean)
    name, colon, _secret = user.partition(":")
    masked = f"{name}:***" if colon else "***"
    assert redact_credentials(with_secret) == f"https://{masked}@{host}/{path}"
