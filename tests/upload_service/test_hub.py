"""Who hears which status event, and what a socket that falls behind gets instead."""

from __future__ import annotations

from typing import Any

from glowworm.models import Status
from glowworm.status_events import StatusEvent, StatusEventType
from upload_service.hub import MAX_BACKLOG, Closing, Hub, Listener


def _event(owner_id: int, image_id: int = 1) -> StatusEvent:
    return StatusEvent(
        type=StatusEventType.COMPLETE,
        image_id=image_id,
        owner_id=owner_id,
        processing_status=Status.COMPLETE,
        thumbnail_status=Status.COMPLETE,
        variant_status=Status.COMPLETE,
    )


def _drain(listener: Listener) -> list[dict[str, Any] | Closing]:
    messages = []
    while not listener.outbox.empty():
        messages.append(listener.outbox.get_nowait())
    return messages


def test_owners_hear_their_images_and_admins_hear_all() -> None:
    hub = Hub()
    alice, alice_again, bob, admin = (
        hub.join(1, is_admin=False, token_id=101),
        hub.join(1, is_admin=False, token_id=102),
        hub.join(2, is_admin=False, token_id=103),
        hub.join(3, is_admin=True, token_id=104),
    )
    hub.publish(_event(owner_id=1, image_id=7))
    for listener in (alice, alice_again, admin):
        [message] = _drain(listener)
        assert isinstance(message, dict)
        assert (message["type"], message["image_id"]) == ("image:processing:complete", 7)
    assert _drain(bob) == []


def test_a_listener_that_left_hears_nothing() -> None:
    hub = Hub()
    listener = hub.join(1, is_admin=False, token_id=105)
    hub.leave(listener)
    hub.publish(_event(owner_id=1))
    assert _drain(listener) == []
    assert len(hub) == 0


def test_a_full_backlog_becomes_one_resync() -> None:
    hub = Hub()
    slow = hub.join(1, is_admin=False, token_id=106)
    for n in range(MAX_BACKLOG + 5):
        hub.publish(_event(owner_id=1, image_id=n))
    messages = _drain(slow)
    assert messages[0] == {"type": "resync", "reason": "too many events; reload"}
    assert len(messages) == 5


def test_resync_reaches_everyone_and_close_replaces_the_backlog() -> None:
    hub = Hub()
    one, two = hub.join(1, is_admin=False, token_id=107), hub.join(2, is_admin=True, token_id=108)
    hub.resync("the server's event feed (re)connected")
    assert (
        _drain(one)
        == _drain(two)
        == [{"type": "resync", "reason": "the server's event feed (re)connected"}]
    )
    hub.publish(_event(owner_id=1))
    hub.close()
    assert _drain(one) == [Closing(1001, "server shutting down")]


def test_ending_a_token_closes_only_the_sockets_signed_in_with_it() -> None:
    hub = Hub()
    phone, laptop, other = (
        hub.join(1, is_admin=False, token_id=10),
        hub.join(1, is_admin=False, token_id=11),
        hub.join(2, is_admin=False, token_id=12),
    )
    assert hub.token_ids() == {10, 11, 12}
    hub.publish(_event(owner_id=1))
    assert hub.end_tokens({10}, 4401, "token revoked or expired") == 1
    assert _drain(phone) == [Closing(4401, "token revoked or expired")]
    assert len(_drain(laptop)) == 1 and _drain(other) == []
