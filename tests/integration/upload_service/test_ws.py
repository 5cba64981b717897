"""WebSocket /api/ws on real services: every replica relays every event, to the right users.

Two uvicorn replicas of the API, two real processors, RabbitMQ's status fanout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from kombu import Connection
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import ClientConnection, connect

from glowworm.db import make_engine, make_session_factory
from glowworm.models import Status
from glowworm.settings import Settings
from glowworm.status_events import StatusEvent, StatusEventType
from glowworm.tokens import user_for_token
from glowworm.topology import Topology
from tests.conftest import CORPUS, ApiServer

EVENT_TYPES = {t.value for t in StatusEventType}


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@contextmanager
def socket_for(server: ApiServer, headers: dict[str, str]) -> Iterator[ClientConnection]:
    """A signed-in socket on ``server``, past its ``ready`` frame."""
    with connect(f"ws://127.0.0.1:{server.port}/api/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "token": _token(headers)}))
        ready = json.loads(ws.recv(timeout=10))
        assert ready["type"] == "ready", ready
        assert ready["live"] is True
        yield ws


def events_until(
    ws: ClientConnection, image_id: int, last: str, timeout: float = 60
) -> list[dict[str, Any]]:
    """The image's status events up to and including one of type ``last``."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {last} for image {image_id}; saw {seen}")
        frame = json.loads(ws.recv(timeout=remaining))
        if frame["type"] in EVENT_TYPES and frame["image_id"] == image_id:
            seen.append(frame)
            if frame["type"] == last:
                return seen


def image_events_within(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    frames = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            frames.append(json.loads(ws.recv(timeout=remaining)))
        except TimeoutError:
            break
    return [f for f in frames if f["type"] in EVENT_TYPES]


def upload(server: ApiServer, headers: dict[str, str], name: str) -> int:
    data = (CORPUS / name).read_bytes()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        answer = http.post(
            "/api/uploads",
            headers=headers,
            json={"filename": name, "content_type": "image/jpeg", "size": len(data)},
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        put = http.put(body["upload"]["url"], content=data, headers=body["upload"]["headers"])
        assert put.status_code == 200, put.text
    image_id: int = body["id"]
    return image_id


def test_both_replicas_relay_every_event_to_the_owner_and_admins_only(
    api_server: Any, make_token: Any, processors: Any
) -> None:
    replica_a, replica_b = api_server(), api_server()
    owner, stranger, admin = make_token(), make_token(), make_token(admin=True)
    with (
        socket_for(replica_a, owner) as owner_on_a,
        socket_for(replica_b, owner) as owner_on_b,
        socket_for(replica_a, stranger) as stranger_on_a,
        socket_for(replica_b, admin) as admin_on_b,
    ):
        image_id = upload(replica_a, owner, "orientation-landscape-6.jpg")
        for ws in (owner_on_a, owner_on_b, admin_on_b):
            events = events_until(ws, image_id, StatusEventType.COMPLETE.value)
            types = [e["type"] for e in events]
            ended = {StatusEventType.FAILED.value, StatusEventType.DELETED.value}
            assert set(types) == EVENT_TYPES - ended, types
            assert types[0] == StatusEventType.UPLOADED.value
            thumbnails = next(
                e for e in events if e["type"] == "image:processing:thumbnail_complete"
            )
            assert thumbnails["thumbnail_status"] == "complete"
            assert thumbnails["variant_status"] != "complete"
            assert set(thumbnails["thumbnail_urls"]) == {"small", "medium", "large"}
            assert (
                thumbnails["thumbnail_urls"]["small"] == f"/api/images/{image_id}/file?size=small"
            )
            started = next(e for e in events if e["type"] == "image:processing:started")
            assert started["processing_status"] == "processing"
            assert started["thumbnail_urls"] == {}
            complete = events[-1]
            assert (
                complete["processing_status"]
                == complete["thumbnail_status"]
                == complete["variant_status"]
                == "complete"
            )
            assert complete["error"] is None
        assert image_events_within(stranger_on_a, 1.0) == []


def test_a_failure_reaches_the_owner_with_its_error(
    api_server: Any, make_token: Any, processors: Any
) -> None:
    server = api_server()
    owner = make_token()
    with socket_for(server, owner) as ws:
        image_id = upload(server, owner, "fake.jpg")
        failed = events_until(ws, image_id, StatusEventType.FAILED.value)[-1]
    assert failed["processing_status"] == failed["thumbnail_status"] == "failed"
    assert "not a recognised image" in failed["error"]
    assert failed["thumbnail_urls"] == {}


def test_a_deletion_reaches_the_owner(api_server: Any, make_token: Any, processors: Any) -> None:
    server = api_server()
    owner = make_token()
    with socket_for(server, owner) as ws:
        image_id = upload(server, owner, "orientation-landscape-6.jpg")
        events_until(ws, image_id, StatusEventType.COMPLETE.value)
        answer = httpx.delete(f"{server.url}/api/images/{image_id}", headers=owner, timeout=30)
        assert answer.status_code == 202, answer.text
        deleted = events_until(ws, image_id, StatusEventType.DELETED.value)[-1]
    assert deleted["image_id"] == image_id


def _publish(settings: Settings, event: StatusEvent) -> None:
    with Connection(settings.amqp_url) as connection:
        connection.Producer(serializer="json").publish(
            event.to_body(), exchange=Topology.from_settings(settings).status, routing_key=""
        )


def _event(owner_id: int, image_id: int) -> StatusEvent:
    return StatusEvent(
        type=StatusEventType.STARTED,
        image_id=image_id,
        owner_id=owner_id,
        processing_status=Status.PROCESSING,
        thumbnail_status=Status.PROCESSING,
        variant_status=Status.PENDING,
    )


def _user_id(settings: Settings, headers: dict[str, str]) -> int:
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            user = user_for_token(session, _token(headers))
            assert user is not None
            return user.id
    finally:
        engine.dispose()


def test_a_published_event_reaches_its_owner_only_and_pings_are_answered(
    api_server: Any, make_token: Any, settings: Settings
) -> None:
    # A real replica, not the in-process TestClient: its websocket session cancels the
    # app when the test closes the socket, racing the route's own clean-up (1 run in 6).
    owner = make_token()
    owner_id = _user_id(settings, owner)
    with socket_for(api_server(), owner) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
        _publish(settings, _event(owner_id + 1000, 1))  # someone else's image: not heard
        _publish(settings, _event(owner_id, 2))
        frame = json.loads(ws.recv(timeout=10))
        while frame["type"] == "resync":
            frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "image:processing:started"
        assert (frame["image_id"], frame["owner_id"]) == (2, owner_id)


@pytest.mark.parametrize(
    "first_frame",
    [
        {"type": "auth", "token": "gw_not-a-token"},
        {"type": "auth"},
        {"token": "gw_no-type"},
        "not json",
    ],
)
def test_a_socket_without_a_good_token_is_closed_with_4401(
    app_client: TestClient, first_frame: Any
) -> None:
    with app_client.websocket_connect("/api/ws") as ws:
        if isinstance(first_frame, str):
            ws.send_text(first_frame)
        else:
            ws.send_json(first_frame)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
