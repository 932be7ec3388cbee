"""The renewal state's fast row loader against the checked one: the same state, or no answer.

A warm ``renew`` over 100,000 lineages loads 2.5 million fields; ``row_state`` checks a
row by its type signature. Whenever it answers, the LineageState must equal what
``LineageState.from_json`` builds from the same row, and it must refuse every row that
``from_json`` refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certbot_like.storage.renewal_state import (
    FIELD_ORDER,
    LineageState,
    RenewalState,
    row_state,
)
from tests.unit.fuzzing import FUZZ

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.lists(st.text(max_size=3), max_size=2),
    st.lists(st.integers(0, 9), min_size=2, max_size=2),
)


def _checked(row: list[Any]) -> LineageState | None:
    try:
        return LineageState.from_json(dict(zip(FIELD_ORDER, row, strict=True)))
    except (ValueError, TypeError):
        return None


def _typical() -> list[Any]:
    state = LineageState(
        token="1:2:3|../../archive/a/cert1.pem|4:5:6",
        hint="/etc/letsencrypt/live/a/cert.pem",
        names=["a.test", "www.a.test"],
        not_before=1.0,
        not_after=2.5,
        serial="ab",
        server="https://acme.test/dir",
        failures=2,
    )
    return state.to_row()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(FIELD_ORDER) - 1), _ANY), max_size=4))
def test_fast_rows_equal_checked_rows_or_are_refused(changes: list[tuple[int, Any]]) -> None:
    row = _typical()
    for at, value in changes:
        row[at] = value
    fast = row_state(list(row))
    checked = _checked(list(row))
    if checked is None:
        assert fast is None
    elif fast is not None:
        assert fast == checked


def test_a_saved_state_loads_back_through_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = RenewalState(dirty=True)
    for index in range(3):
        lineage = LineageState(**dict(zip(FIELD_ORDER, _typical(), strict=True)))
        lineage.serial = f"{index:x}"
        state.lineages[f"n{index}.test"] = lineage
    state.save(tmp_path)

    def refuse(data: Any) -> LineageState:
        raise AssertionError("the checked path was taken")

    monkeypatch.setattr(LineageState, "from_json", refuse)
    loaded = RenewalState.load(tmp_path)
    assert loaded.lineages == state.lineages
    assert not loaded.dirty


def test_a_row_with_an_ari_window_takes_the_checked_path() -> None:
    row = _typical()
    row[FIELD_ORDER.index("ari_window")] = [1.0, 2.0]
    assert row_state(list(row)) is None
    checked = _checked(row)
    assert checked is not None and checked.ari_window == (1.0, 2.0)
