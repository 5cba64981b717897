"""The upload_service deployable: ``create_app(settings)`` and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from glowworm.db import make_engine, make_session_factory
from glowworm.logs import configure_logging
from glowworm.storage import make_s3_client
from glowworm.topology import Topology
from upload_service.broker import Broker
from upload_service.resources import Resources
from upload_service.routes import admin, images, uploads
from upload_service.settings import UploadSettings


def create_app(settings: UploadSettings | None = None) -> FastAPI:
    settings = settings or UploadSettings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.resources = Resources(
            settings=settings,
            sessions=make_session_factory(engine),
            signer=make_s3_client(settings, public=True),
            broker=Broker(settings.amqp_url, Topology.from_settings(settings)),
        )
        yield
        engine.dispose()

    app = FastAPI(title="GlowWorm upload service", lifespan=lifespan)
    app.include_router(uploads.router)
    app.include_router(images.router)
    app.include_router(admin.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
