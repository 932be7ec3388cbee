"""What a ``renew`` run leaves behind for monitoring: each lineage's last attempt, last
success and failure count, and the run itself (start, duration, exit code).

Kept in the renewal state (:mod:`certbot_like.storage.renewal_state`) so ``check``,
``metrics`` and notifications read it without parsing anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from certbot_like.services.due import Outcome
from certbot_like.storage.renewal_state import RenewalState, RunRecord


def record_outcomes(state: RenewalState, outcomes: Iterable[Outcome], now: float) -> None:
    """Note each renewed or failed lineage's attempt in *state* (others are left alone)."""
    for outcome in outcomes:
        st = state.lineages.get(outcome.name)
        if st is None or outcome.status not in ("renewed", "failed"):
            continue
        st.last_attempt = now
        st.last_outcome = outcome.status
        if outcome.status == "renewed":
            st.last_success = now
            st.last_error = None
        else:
            st.last_error = outcome.reason
            st.failures += 1
        state.dirty = True


def record_run(state: RenewalState, started: float, duration: float, exit_code: int) -> None:
    """Note the run in *state*; it is written with the state."""
    state.last_run = RunRecord(started, duration, exit_code)
    state.dirty = True
