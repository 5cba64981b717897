"""The processor's stop signals: a SIGTERM always ends in a clean exit."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

# A process that logs without pause, as a busy worker does, and stops on the processor's
# own handlers. Almost every signal lands while the main thread holds the log's write lock.
BUSY_LOGGER = """
import os, signal, threading
import structlog
from glowworm.logs import configure_logging
from processor.main import stop_on_signals

configure_logging()
log = structlog.get_logger()
stopping = threading.Event()
received = stop_on_signals(stopping, [])
threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
while not stopping.is_set():
    log.info("busy")
log.info("stopped", signals=received)
"""


def test_a_sigterm_while_the_main_thread_logs_stops_the_process() -> None:
    # A handler that logged waited forever on the lock its own thread held (CI saw a
    # processor ignore SIGTERM right after logging worker.ready).
    done = subprocess.run(
        [sys.executable, "-c", BUSY_LOGGER], cwd=ROOT, capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr.decode()
    last = json.loads(done.stdout.splitlines()[-1])
    assert last["event"] == "stopped"
    assert last["signals"] == ["SIGTERM"]
