"""The upload_service deployable: ``create_app(settings)`` and its lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from anyio import CapacityLimiter
from cachetools import TTLCache
from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from glowworm import upload_claims
from glowworm.db import make_engine, make_session_factory
from glowworm.logs import configure_logging
from glowworm.status_events import StatusEvent
from glowworm.storage import make_s3_client
from glowworm.topology import Topology
from upload_service.admission import AdmissionLimit
from upload_service.batched_inserts import open_batched_inserts
from upload_service.broker import Broker
from upload_service.hub import Hub
from upload_service.outages import answer_outages
from upload_service.presign import GetSigner, PutSigner
from upload_service.rate_limits import RateLimits
from upload_service.relay import StatusRelay
from upload_service.resources import Resources
from upload_service.routes import admin, companion, images, media, pages, uploads, users, ws
from upload_service.schemas import refusals
from upload_service.security_headers import SecurityHeaders
from upload_service.settings import UploadSettings

STATIC = Path(__file__).parent / "static"
# Threads the upload route's duplicate checks (uploads announcing a sha256) and quota
# checks (users with a quota) use at once: a few keep the database busy, more only
# take turns at the GIL.
UPLOAD_THREADS = 4
# Tokens the upload route remembers at once (the least recently used go first).
TOKEN_CACHE_SIZE = 10_000


def create_app(settings: UploadSettings | None = None) -> FastAPI:
    settings = settings or UploadSettings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Whatever was opened is closed again, in reverse, also when a later step fails.
        async with AsyncExitStack() as opened:
            engine = make_engine(
                settings.database_url, pool_size=settings.db_pool_size, max_overflow=0
            )
            opened.callback(engine.dispose)
            inserts = open_batched_inserts(settings.database_url, engine)
            opened.push_async_callback(inserts.close)
            topology = Topology.from_settings(settings)
            loop = asyncio.get_running_loop()
            hub = Hub()

            def on_event(event: StatusEvent) -> None:
                loop.call_soon_threadsafe(hub.publish, event)

            def on_gap(reason: str) -> None:
                loop.call_soon_threadsafe(hub.resync, reason)

            broker = Broker(settings.amqp_url, topology)
            opened.callback(broker.close)
            relay = StatusRelay(settings.amqp_url, topology, on_event=on_event, on_gap=on_gap)
            sessions = make_session_factory(engine)
            app.state.resources = Resources(
                settings=settings,
                sessions=sessions,
                inserts=inserts,
                signer=make_s3_client(settings, public=True),
                put_signer=PutSigner(
                    settings.s3_public_endpoint,
                    settings.s3_region,
                    settings.s3_access_key,
                    settings.s3_secret_key,
                ),
                get_signer=GetSigner(
                    settings.s3_public_endpoint,
                    settings.s3_region,
                    settings.s3_access_key,
                    settings.s3_secret_key,
                ),
                s3=make_s3_client(settings),
                broker=broker,
                hub=hub,
                relay=relay,
                callers=TTLCache(maxsize=TOKEN_CACHE_SIZE, ttl=settings.token_cache_seconds),
                upload_threads=CapacityLimiter(UPLOAD_THREADS),
                rate_limits=RateLimits(settings),
                claim_key=upload_claims.SigningKeyCache(),
            )
            relay.start()
            opened.push_async_callback(asyncio.to_thread, relay.stop)
            opened.callback(hub.close)
            watcher = asyncio.create_task(ws.watch_tokens(app.state.resources))
            opened.callback(watcher.cancel)
            yield

    # Any route may be refused before it runs (admission.py: a slow or oversized body)
    # or when a service it needs is down (outages.py).
    app = FastAPI(
        title="GlowWorm upload service", lifespan=lifespan, responses=refusals(408, 413, 503)
    )
    app.add_middleware(
        AdmissionLimit,
        limit=settings.db_pool_size,
        body_timeout=settings.body_timeout_seconds,
        max_body_bytes=settings.max_body_bytes,
    )
    app.add_middleware(SecurityHeaders)  # outermost: refusals get the headers too
    answer_outages(app)
    app.include_router(uploads.router)
    app.include_router(images.router)
    app.include_router(users.router)
    app.include_router(admin.router)
    app.include_router(ws.router)
    app.include_router(companion.router)
    app.include_router(media.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> dict[str, str]:
        resources: Resources = request.app.state.resources
        return {
            "status": "ok",
            "events": "live" if resources.relay.connected else "connecting",
        }

    return app
