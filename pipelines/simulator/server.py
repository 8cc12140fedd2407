"""Run a simulator on a loopback port in a background thread (end-to-end tests, the demo)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from pipelines.simulator.app import Simulator


@contextlib.contextmanager
def serve_in_thread(
    sim: Simulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout_s: float = 10.0,
    **tls: Any,
) -> Iterator[str]:
    """Serve `sim.app` with uvicorn in a daemon thread; yields the base URL.

    Port 0 picks a free port. The lifespan runs, so webhook deliveries and the change
    stream work in the background. The server is shut down when the block exits.
    `tls`: uvicorn's ssl_* options (ssl_certfile, ssl_keyfile, ssl_ca_certs,
    ssl_cert_reqs): the simulator then speaks HTTPS.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(sim.app, log_level="warning", lifespan="on", access_log=False, **tls)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="tampuuri-simulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the simulator server did not start")
        time.sleep(0.01)
    try:
        yield f"{'https' if tls else 'http'}://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
