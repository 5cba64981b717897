"""Headers that keep a browser from misreading the API's answers or embedding its pages.

Every answer says ``X-Content-Type-Options: nosniff`` (a browser takes the declared
type, never guesses one from the bytes) and ``Referrer-Policy: same-origin`` (a page's
address is not sent to the object store or anywhere else). The three pages also carry a
Content-Security-Policy (``page_policy``): scripts, styles and everything else only from
the API's own origin, images and uploads also from the object store (thumbnails
redirect there, and uploads PUT straight to it), no plugins, no framing. The pages have
no inline script or style, so nothing needs ``'unsafe-inline'``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from upload_service.settings import UploadSettings

EVERY_ANSWER = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_policy(settings: UploadSettings) -> str:
    """The pages' Content-Security-Policy, naming the store origins browsers reach."""
    urls = [settings.s3_public_endpoint, settings.public_derivatives_url]
    stores = " ".join(sorted({_origin(url) for url in urls if url}))
    return "; ".join(
        [
            "default-src 'self'",
            f"img-src 'self' {stores}",  # thumbnails: /media redirects to the store
            f"connect-src 'self' {stores}",  # uploads: the presigned PUT goes to the store
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


class SecurityHeaders:
    """Adds ``EVERY_ANSWER`` to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_ANSWER.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
