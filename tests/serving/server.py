"""A real `serve()` process on a free loopback port, for the tests that go through a socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.serving.conftest import ServingWorld

REPO = Path(__file__).resolve().parents[2]
SERVER = "from serving.main import serve; import sys; serve('127.0.0.1', int(sys.argv[1]), log_level=sys.argv[2])"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(world: ServingWorld, log: Path, models_dir: Path | None = None,
                   log_level: str = "info", env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `serve()` in a subprocess (poller off, `env` added), wait until ready, stop it afterwards;
    yields its URL."""
    port = free_port()
    env = world.env(models_dir) | {"KOMPETENSI_POLL_SECONDS": "0"} | (env or {})
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", SERVER, str(port), log_level], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not become ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
