"""moto's S3 server on a socket the demo already holds.

moto's own ``ThreadedMotoServer`` binds inside its thread: when the port is taken,
werkzeug exits that thread and ``start()`` waits for it for ever. Serving a socket that
is already listening leaves nothing to fail in the thread.
"""

from __future__ import annotations

import socket
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from demo.ports import HOST, port_of


class EmbeddedS3:
    """An in-memory S3 endpoint at ``endpoint``, served by a daemon thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.endpoint = f"http://{HOST}:{port_of(sock)}"
        app = DomainDispatcherApplication(create_backend_app)
        # fd: werkzeug serves a duplicate of the listening socket; ours is closed after.
        with sock:
            self._server = make_server(
                HOST,
                port_of(sock),
                app,
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=sock.fileno(),
            )
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket (safe if ``start`` never ran)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
