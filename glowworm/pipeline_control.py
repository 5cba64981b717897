"""The switch that pauses and resumes every processor: its row, and its commands' names.

The switch is the one row of ``pipeline_state`` in Postgres (``is_paused``,
``set_paused``), and the row is the truth: a processor reads it whenever it starts
consuming, so one started later obeys it too. Running processors learn of a change from
a control message on RabbitMQ, whose commands this module names (``ControlCommand``)
but does not send: the admin routes (upload_service/routes/admin.py) set the row,
commit, then publish the command through ``Broker.tell_processors``
(upload_service/broker.py) to the fanout exchange ``<prefix>.control``
(glowworm/topology.py), where each processor listens on a queue of its own
(processor/consumer.py).
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
