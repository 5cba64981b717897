"""The demo's listening sockets: the port asked for, else the default, else a free one.

The sockets are bound here, before any server starts, and handed to the servers (moto's
werkzeug and uvicorn), so a taken port is found at once, in the main thread, and nothing
can take a port between the check and the server's start.
"""

from __future__ import annotations

import errno
import socket

from demo.errors import DemoError

# Loopback only: the demo serves the machine it runs on.
HOST = "127.0.0.1"
# Port 0: the kernel picks a free one.
ANY_FREE_PORT = 0


def bind(port: int) -> socket.socket:
    """A TCP socket listening on ``HOST:port``; raises OSError (EADDRINUSE) if it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As uvicorn and werkzeug do: a port in TIME_WAIT after the last run is free.
        # Linux still refuses a port another socket listens on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def listen(what: str, requested: int | None, default: int, flag: str) -> socket.socket:
    """A listening socket for ``what``.

    A ``requested`` port (the user's explicit ``flag``) must be free: DemoError if not.
    Without one the ``default`` is tried first, and a free port taken when it is busy.
    """
    try:
        return bind(default if requested is None else requested)
    except OSError as e:
        if requested is not None:
            reason = "is in use by another program" if e.errno == errno.EADDRINUSE else e.strerror
            raise DemoError(
                f"port {requested} ({what}, {flag}) {reason}; "
                f"pick another, or leave {flag} out for a free one"
            ) from e
        if e.errno != errno.EADDRINUSE:
            raise DemoError(f"cannot listen on {HOST}:{default} ({what}): {e.strerror}") from e
    return bind(ANY_FREE_PORT)


def port_of(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port
