"""Servers and the load generator of the serving benchmark (`benchmarks.bench_serving`).

Each server runs in its own session (uvicorn and mlflow spawn workers) and is stopped as a group; the load
generator sends a fixed list of calls from a number of threads, one keep-alive httpx client each.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks import PROJECT_ROOT, percentile, rounded

START_TIMEOUT_S = 300.0
DEADLINE_S = 12.0  # a configuration stops after this long (our slow endpoints reach this first)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_rss_mb(session_id: int) -> float | None:
    """Total RSS of the processes in a session (a server and the workers it spawned), Linux only."""
    total_kb, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session_id:  # fields after the command: state ppid pgrp session …
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    found = True
        except (OSError, IndexError, ValueError):
            continue
    return round(total_kb / 1024.0, 1) if found else None


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen[bytes]
    start_seconds: float


@contextmanager
def started(name: str, argv: Sequence[str], env: dict[str, str], ready_path: str, port: int, log: Path,
            timeout_s: float = START_TIMEOUT_S) -> Iterator[Server]:
    """Start a server in its own session, wait for `ready_path` to answer 200, stop the session after."""
    base = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen(list(argv), env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(base + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not become ready on port {port}:\n{tail}")
            time.sleep(0.25)
        yield Server(name, base, process, time.perf_counter() - began)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's session (its own process group: uvicorn and mlflow spawn workers), then KILL."""
    for sig, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def our_server_argv(port: int) -> list[str]:
    code = "import sys; from serving.main import serve; serve('127.0.0.1', int(sys.argv[1]), log_level='warning')"
    return [sys.executable, "-c", code, str(port)]


def mlflow_server_argv(model_uri: str, port: int) -> list[str]:
    return [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "--env-manager", "local",
            "-m", model_uri, "-h", "127.0.0.1", "-p", str(port), "-w", "1"]


def one_thread_env(env: dict[str, str]) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**env, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PATH": bin_dir + os.pathsep + env.get("PATH", "")}


# ---------------------------------------------------------------------------------------------------
# Load generator
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None = None


def summarise(latencies_s: Sequence[float], wall_s: float, errors: int, sent: int) -> dict[str, Any]:
    """p50/p90/p99/mean/max latency in ms and completed requests per second of one configuration."""
    ms = [x * 1000.0 for x in latencies_s]
    return {
        "sent": sent, "ok": len(ms), "errors": errors, "wall_seconds": round(wall_s, 3),
        "requests_per_s": rounded(len(ms) / wall_s if wall_s > 0 else None, 2),
        "p50_ms": rounded(percentile(ms, 50)), "p90_ms": rounded(percentile(ms, 90)),
        "p99_ms": rounded(percentile(ms, 99)), "mean_ms": rounded(sum(ms) / len(ms) if ms else None),
        "max_ms": rounded(max(ms) if ms else None),
    }


def generate_load(base: str, calls: Sequence[Call], concurrency: int, *, headers: dict[str, str] | None = None,
                  deadline_s: float = DEADLINE_S) -> dict[str, Any]:
    """Send `calls` (each once, in order of availability) from `concurrency` threads with keep-alive clients.

    Stops early after `deadline_s`. A response counts as ok when it is 200 (bodies are not parsed: the
    client's cost stays the same for every target); latencies of ok responses only.
    """
    lock = threading.Lock()
    next_index = [0]
    latencies: list[float] = []
    errors: list[str] = []
    sent = [0]
    barrier = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    def worker() -> None:
        with httpx.Client(base_url=base, headers=headers or {}, timeout=60.0) as client:
            try:
                client.get("/", timeout=10.0)  # open the keep-alive connection before the clock starts
            except httpx.HTTPError:
                pass
            barrier.wait(timeout=60.0)
            while True:
                with lock:
                    i = next_index[0]
                    if i >= len(calls) or time.perf_counter() > stop_at[0]:
                        return
                    next_index[0] += 1
                    sent[0] += 1
                call = calls[i]
                began = time.perf_counter()
                try:
                    response = client.request(call.method, call.path, content=call.body,
                                              headers={"Content-Type": "application/json"} if call.body else None)
                    ok = response.status_code == 200
                    problem = None if ok else f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - began
                with lock:
                    if problem is None:
                        latencies.append(elapsed)
                    else:
                        errors.append(problem)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + deadline_s + 60.0  # provisional: set for real once all are connected
    barrier.wait(timeout=60.0)
    began = time.perf_counter()
    stop_at[0] = began + deadline_s
    for thread in threads:
        thread.join(timeout=deadline_s + 120.0)
    wall = time.perf_counter() - began
    result = summarise(latencies, wall, len(errors), sent[0])
    if errors:
        result["first_error"] = errors[0]
    return result
