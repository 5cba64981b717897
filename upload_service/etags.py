"""ETags for the JSON status routes, so a client that polls is told "not modified".

The tag is a hash of the body as it would be sent, so it changes exactly when the body
does and nothing is stored. ``Cache-Control: private, no-cache`` lets a browser keep the
body but makes it ask again each time (a status changes without warning); with
``If-None-Match`` asking again is cheap: the query still runs, but a 304 carries no
body.
"""

from __future__ import annotations

import hashlib

from fastapi import Request, Response, status
from pydantic import BaseModel

# Any client may keep the body, no shared cache may, and each use asks again first.
CACHE_CONTROL = "private, no-cache"


def etag_of(content: bytes) -> str:
    """A strong ETag: the first 128 bits of the body's SHA-256, in quotes."""
    return f'"{hashlib.sha256(content).hexdigest()[:32]}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag``: compared weakly (``W/"x"`` names
    ``"x"``), as RFC 9110 asks for GET, and ``*`` names any."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def json_or_not_modified(request: Request, body: BaseModel) -> Response:
    """``body`` as JSON with its ETag, or a 304 with the same ETag and no body when the
    request's If-None-Match names it."""
    content = body.model_dump_json(by_alias=True).encode()
    headers = {"ETag": etag_of(content), "Cache-Control": CACHE_CONTROL}
    if matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content, media_type="application/json", headers=headers)
