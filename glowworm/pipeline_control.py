"""Pausing and resuming all processors: the switch in Postgres, the nudge on RabbitMQ.

The row is the truth (a processor that starts later reads it); the control message
only tells running processors to look now.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from glowworm.models import PipelineState

# The one row of pipeline_state.
STATE_ID = 1


class ControlCommand(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"


def is_paused(session: Session) -> bool:
    state = session.get(PipelineState, STATE_ID)
    return bool(state and state.paused)


def set_paused(session: Session, paused: bool) -> None:
    state = session.get(PipelineState, STATE_ID, with_for_update=True)
    if state is None:
        session.add(PipelineState(id=STATE_ID, paused=paused))
    else:
        state.paused = paused
