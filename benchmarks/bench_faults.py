"""`make bench-faults`: the server under twice the load it can serve, then with its store stopped and started.

What it shows (issue 14, "a bounded load-and-fault run"): the bounded lines of `serving.compute` shed the
excess with 503 and Retry-After instead of queueing it without end; nothing else answers 5xx; the worker's
memory stays flat; admitted requests keep a bounded latency; GET /readyz turns false while the store is
down and true again after; and the audit trail loses nothing (rows = audited requests answered).

Steps, all on loopback, one uvicorn worker (`serving.main.serve`, as `make run` serves):
1. the world: the demo export (6,000 employees, seed 7, as `make run`), ingested into the store, the real
   predictor fitted (`training.fit.fit_predictor`) and written as the champion bundle, one reader key;
2. warm-up, then capacity: closed loop at concurrency 4 on `GET /v1/employees/{nip}/recommendations`;
3. overload: an open loop (arrivals at a fixed rate, whatever the answers) at 2 × capacity for 60 s;
4. fault: the same open loop for 30 s while the store is stopped at 8 s and started again at 18 s,
   with /readyz polled every 0.25 s;
5. the server is stopped (its audit writer flushes) and the audit rows are counted in the store.

The store is PostgreSQL 15 by default: a throwaway cluster of its own (initdb in the work directory, a
free port), stopped and started with `pg_ctl`, so the shared cluster (`pg_ctlcluster 15 main`) that tests
may be using is never touched; this needs root (to run the server binaries as `postgres`). `--store
sqlite` instead holds an exclusive lock on the SQLite file for the outage.

    python -m benchmarks.bench_faults [--store postgres|sqlite] [--employees 6000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks import PROJECT_ROOT, machine_facts, percentile, rounded, say, write_json
from benchmarks.serving_load import free_port, generate_load, one_thread_env, our_server_argv, session_rss_mb
from benchmarks.serving_load import started as started_server

RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"
DEMO_EMPLOYEES, DEMO_SEED = 6000, 7  # kompetensi.demo
CAPACITY_CONCURRENCY = 4
CAPACITY_SECONDS = 10.0
WARMUP_REQUESTS = 100
OVERLOAD_FACTOR = 2.0
FAULT_SECONDS, STOP_AT, START_AT = 30.0, 8.0, 18.0
READY_POLL_SECONDS = 0.25
POLL_SECONDS = "2"  # the server's champion/snapshot poller: on, so the outage reaches it too
PG_BIN = Path("/usr/lib/postgresql/15/bin")
AUDITED = "/v1/employees/{nip}/recommendations"


# ---------------------------------------------------------------------------------------------------
# The store, and how it goes down
# ---------------------------------------------------------------------------------------------------
class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster in `root` on a free port, owned and run by the `postgres` user."""

    def __init__(self, root: Path) -> None:
        self.data = root / "pg"
        self.port = free_port()
        self.log = self.data / "server.log"  # written by the postgres user, so inside its directory

    def _as_postgres(self, *argv: str, timeout: float = 120) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def create(self) -> str:
        if os.geteuid() != 0 or not (PG_BIN / "initdb").exists():
            raise SystemExit("--store postgres needs root and PostgreSQL 15's binaries; use --store sqlite")
        self.data.mkdir(parents=True)
        shutil.chown(self.data, "postgres", "postgres")
        # postgres must reach its directory: open the run directory and the work directory (a temporary
        # directory is 0700), nothing above them.
        for parent in (self.data.parent, self.data.parent.parent):
            parent.chmod(parent.stat().st_mode | 0o005)
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8")
        self.start()
        self._as_postgres(str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-X",
                          "-q", "-c", "CREATE DATABASE kompetensi")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/kompetensi"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                          "-w", "start")

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass  # already stopped


class SqliteLock:
    """The SQLite store "down": another process holds an exclusive lock on the file (readers wait)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def stop(self) -> None:
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("BEGIN EXCLUSIVE")

    def start(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None

    def destroy(self) -> None:
        self.start()


# ---------------------------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------------------------
@dataclass
class World:
    env: dict[str, str]
    db_url: str
    key: str
    nips: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


def build_world(root: Path, db_url: str, employees: int) -> World:
    """generate → ingest → fit the real predictor → champion bundle → one reader key (no MLflow)."""
    from features.generator import generate_export
    from features.ingest import ingest_export
    from features.store import dispose_engines, get_engine, load_snapshot
    from serving.keys import create_key
    from training.bundle import write_bundle_dir
    from training.fit import fit_predictor

    seconds: dict[str, float] = {}
    began = time.perf_counter()
    export_dir = root / "export"
    generate_export(export_dir, employees=employees, seed=DEMO_SEED)
    seconds["generate"] = time.perf_counter() - began
    began = time.perf_counter()
    ingest_export(export_dir, url=db_url)
    seconds["ingest"] = time.perf_counter() - began
    began = time.perf_counter()
    export = load_snapshot(get_engine(db_url))
    predictor = fit_predictor(export, seed=DEMO_SEED)
    predictor.metadata["model_version"] = "1"
    write_bundle_dir(predictor, root / "models", version="1",
                     manifest_extra={"as_of": export.exported_on.isoformat(), "metrics": {}})
    seconds["train"] = time.perf_counter() - began
    employees_table = export["employees"]
    active = sorted(str(n) for n in employees_table.loc[employees_table["status"] == "aktif", "nip"])
    nips = random.Random(DEMO_SEED).sample(active, min(500, len(active)))
    _, key = create_key("reader", root / "keys.json", label="bench-faults")
    dispose_engines()
    env = one_thread_env({
        **os.environ, "KOMPETENSI_DATA_DIR": str(root / "data"), "KOMPETENSI_DB_URL": db_url,
        "KOMPETENSI_MODELS_DIR": str(root / "models"), "KOMPETENSI_API_KEYS_FILE": str(root / "keys.json"),
        "KOMPETENSI_POLL_SECONDS": POLL_SECONDS, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONDONTWRITEBYTECODE": "1",
    })
    return World(env, db_url, key, nips, {k: round(v, 1) for k, v in seconds.items()})


# ---------------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    at: float  # seconds since the phase started
    status: int | None  # None: no answer (connection error, client timeout)
    retry_after: bool
    seconds: float
    error: str | None = None


def _paths(nips: Sequence[str]) -> list[str]:
    return [f"/v1/employees/{nip}/recommendations?limit=5" for nip in nips]


async def open_loop(base: str, paths: Sequence[str], key: str, rate: float, seconds: float,
                    events: Sequence[tuple[float, Any]] = (), ready_log: list[tuple[float, int | None]] | None = None,
                    rss_log: list[float] | None = None, rss_of: Any = None) -> list[Outcome]:
    """Arrivals every 1/rate s for `seconds`, each its own request, whatever the answers so far (an open
    loop: a slow server does not slow the arrivals). `events` are (at, blocking function) run in a thread
    at their time; /readyz and the server's RSS are sampled alongside when logs are given."""
    outcomes: list[Outcome] = []
    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30.0, limits=limits) as client:
        began = time.perf_counter()

        async def one(path: str) -> None:
            at = time.perf_counter()
            try:
                response = await client.get(path)
                outcomes.append(Outcome(at - began, response.status_code, "retry-after" in response.headers,
                                        time.perf_counter() - at))
            except httpx.HTTPError as exc:
                outcomes.append(Outcome(at - began, None, False, time.perf_counter() - at, type(exc).__name__))

        async def readiness() -> None:
            assert ready_log is not None
            while time.perf_counter() - began < seconds + 2:
                try:
                    status: int | None = (await client.get("/readyz", timeout=5.0)).status_code
                except httpx.HTTPError:
                    status = None
                ready_log.append((round(time.perf_counter() - began, 2), status))
                await asyncio.sleep(READY_POLL_SECONDS)

        async def memory() -> None:
            assert rss_log is not None
            while time.perf_counter() - began < seconds:
                value = rss_of()
                if value is not None:
                    rss_log.append(value)
                await asyncio.sleep(1.0)

        async def event(at: float, action: Any) -> None:
            await asyncio.sleep(max(0.0, began + at - time.perf_counter()))
            await asyncio.to_thread(action)

        side = [asyncio.create_task(event(at, action)) for at, action in events]
        if ready_log is not None:
            side.append(asyncio.create_task(readiness()))
        if rss_log is not None:
            side.append(asyncio.create_task(memory()))
        tasks = []
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(paths[i % len(paths)])))
        await asyncio.gather(*tasks, *side)
    return outcomes


def summarise(outcomes: Sequence[Outcome], seconds: float, rate: float) -> dict[str, Any]:
    """Sent / admitted (200) / shed (503 with Retry-After) / other answers, the 5xx that are not a shed, and
    the latency of the admitted ones."""
    admitted = [o.seconds * 1000 for o in outcomes if o.status == 200]
    shed = sum(1 for o in outcomes if o.status == 503 and o.retry_after)
    bad_5xx = [o for o in outcomes if o.status is not None and o.status >= 500 and not (o.status == 503 and o.retry_after)]
    no_answer = [o for o in outcomes if o.status is None]
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[str(o.status)] = statuses.get(str(o.status), 0) + 1
    return {
        "seconds": seconds, "offered_rate_per_s": rounded(rate, 1), "sent": len(outcomes), "admitted": len(admitted),
        "shed_503_retry_after": shed, "other_5xx": len(bad_5xx), "no_answer": len(no_answer),
        "no_answer_errors": sorted({o.error or "" for o in no_answer}), "statuses": statuses,
        "admitted_per_s": rounded(len(admitted) / seconds, 1),
        "admitted_p50_ms": rounded(percentile(admitted, 50), 1), "admitted_p99_ms": rounded(percentile(admitted, 99), 1),
        "admitted_max_ms": rounded(max(admitted) if admitted else None, 1),
    }


def readiness_timeline(log: Sequence[tuple[float, int | None]], stop_at: float, start_at: float) -> dict[str, Any]:
    """When /readyz turned false after the store stopped, and true again after it started."""
    down = next((t for t, s in log if t >= stop_at and s != 200), None)
    back = next((t for t, s in log if t >= start_at and s == 200), None)
    before_ok = all(s == 200 for t, s in log if t < stop_at)
    return {"ready_before_stop": before_ok, "not_ready_after_stop_s": rounded(down - stop_at if down else None, 2),
            "ready_after_start_s": rounded(back - start_at if back else None, 2),
            "turned_false": down is not None and down < start_at, "came_back": back is not None}


def count_audit_rows(db_url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one())
    finally:
        engine.dispose()


def audited_answers(*phases: Sequence[Outcome]) -> int:
    """Requests on an audited route the server answered (any status: a shed request is audited too)."""
    return sum(1 for outcomes in phases for o in outcomes if o.status is not None)


# ---------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------
def run(workdir: Path, *, store: str, employees: int, seconds: float, fault_seconds: float) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    outage: PrivatePostgres | SqliteLock
    if store == "postgres":
        outage = PrivatePostgres(workdir)
        db_url = outage.create()
    else:
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        db_url = f"sqlite:///{workdir / 'data' / 'store.db'}"
        outage = SqliteLock(workdir / "data" / "store.db")
    try:
        say(f"world: {employees} employees on {store}")
        world = build_world(workdir, db_url, employees)
        say(f"world ready: {world.seconds}")
        return _measure(workdir, world, outage, store=store, seconds=seconds, fault_seconds=fault_seconds)
    finally:
        outage.destroy()


def _measure(workdir: Path, world: World, outage: PrivatePostgres | SqliteLock, *, store: str, seconds: float,
             fault_seconds: float) -> dict[str, Any]:
    port = free_port()
    paths = _paths(world.nips)
    headers = {"Authorization": f"Bearer {world.key}"}
    report: dict[str, Any] = {"store": store, "machine": machine_facts(), "world": world.seconds,
                              "settings": {"model_concurrency": 1, "model_queue": 32, "request_timeout_seconds": 30}}
    with started_server("ours", our_server_argv(port), world.env, "/readyz", port, workdir / "server.log") as server:
        base = server.base
        say(f"server ready in {server.start_seconds:.1f} s; warm-up and capacity")
        from benchmarks.serving_load import Call

        warm = generate_load(base, [Call("GET", p) for p in paths[:WARMUP_REQUESTS]], 2, headers=headers,
                             deadline_s=60)
        capacity_calls = [Call("GET", p) for p in (paths * 20)]
        capacity = generate_load(base, capacity_calls, CAPACITY_CONCURRENCY, headers=headers,
                                 deadline_s=CAPACITY_SECONDS)
        cap_rate = float(capacity["requests_per_s"] or 1.0)
        rate = OVERLOAD_FACTOR * cap_rate
        rss_after_warmup = session_rss_mb(server.process.pid)
        say(f"capacity {cap_rate:.1f} req/s; overload at {rate:.1f} req/s for {seconds:g} s")
        rss_log: list[float] = []
        overload = asyncio.run(open_loop(base, paths, world.key, rate, seconds, rss_log=rss_log,
                                         rss_of=lambda: session_rss_mb(server.process.pid)))
        rss_after = session_rss_mb(server.process.pid)
        say(f"fault: store stopped at {STOP_AT:g} s, started at {START_AT:g} s of {fault_seconds:g} s")
        ready_log: list[tuple[float, int | None]] = []
        fault = asyncio.run(open_loop(base, paths, world.key, rate, fault_seconds,
                                      events=[(STOP_AT, outage.stop), (START_AT, outage.start)],
                                      ready_log=ready_log))
        time.sleep(3)  # the audit writer's retries reach the store again
        metrics = httpx.get(base + "/metrics", timeout=10).text
    say("server stopped; counting audit rows")
    warm_answers = warm["ok"] + warm["errors"]
    capacity_answers = capacity["ok"] + capacity["errors"]
    expected = warm_answers + capacity_answers + audited_answers(overload, fault)
    rows = count_audit_rows(world.db_url)
    peak = max([*rss_log, rss_after or 0.0]) if rss_log else rss_after
    report.update({
        "capacity": {"concurrency": CAPACITY_CONCURRENCY, **capacity},
        "overload": summarise(overload, seconds, rate),
        "memory": {"rss_after_warmup_mb": rss_after_warmup, "rss_peak_mb": peak, "rss_after_mb": rss_after,
                   "growth_pct": rounded(100 * (peak - rss_after_warmup) / rss_after_warmup, 1)
                   if peak and rss_after_warmup else None},
        "fault": {**summarise(fault, fault_seconds, rate), "stop_at_s": STOP_AT, "start_at_s": START_AT,
                  "readiness": readiness_timeline(ready_log, STOP_AT, START_AT),
                  "readiness_log": ready_log},
        "audit": {"rows": rows, "audited_requests_answered": expected, "lost": expected - rows},
        "shed_metrics": [line for line in metrics.splitlines() if line.startswith("kompetensi_requests_shed_total")],
        "audit_metrics": [line for line in metrics.splitlines() if line.startswith("kompetensi_audit")],
    })
    report["acceptance"] = acceptance(report)
    return report


def acceptance(report: dict[str, Any]) -> dict[str, bool | None]:
    growth = report["memory"]["growth_pct"]
    return {
        "no_5xx_but_503_with_retry_after": report["overload"]["other_5xx"] == 0 and report["fault"]["other_5xx"] == 0,
        "every_request_answered": report["overload"]["no_answer"] == 0 and report["fault"]["no_answer"] == 0,
        "rss_growth_under_10_pct": None if growth is None else growth < 10,
        "readiness_false_then_back": report["fault"]["readiness"]["turned_false"]
        and report["fault"]["readiness"]["came_back"],
        "audit_nothing_lost": report["audit"]["lost"] == 0,
    }


def render_markdown(report: dict[str, Any], command: str) -> str:
    o, f, m, a = report["overload"], report["fault"], report["memory"], report["audit"]
    r = f["readiness"]
    lines = [
        "# Load and faults (`make bench-faults`)", "",
        f"Command: `{command}`; store: {report['store']}; machine: {report['machine'].get('nproc')} cores, "
        f"load average before {report['machine'].get('load_average')}, commit {report['machine'].get('git_commit')}"
        f"{' (dirty)' if report['machine'].get('git_dirty') else ''}, {report['machine'].get('date')}.", "",
        f"Capacity (closed loop, concurrency {report['capacity']['concurrency']}, GET {AUDITED}): "
        f"{report['capacity']['requests_per_s']} req/s, p50 {report['capacity']['p50_ms']} ms, "
        f"p99 {report['capacity']['p99_ms']} ms.", "",
        "| phase | offered req/s | sent | admitted (200) | shed (503 + Retry-After) | other 5xx | no answer "
        "| admitted p50 / p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in (("overload, 2 × capacity", o), ("store stopped and started", f)):
        lines.append(f"| {name} ({s['seconds']:g} s) | {s['offered_rate_per_s']} | {s['sent']} | {s['admitted']} | "
                     f"{s['shed_503_retry_after']} | {s['other_5xx']} | {s['no_answer']} | "
                     f"{s['admitted_p50_ms']} / {s['admitted_p99_ms']} |")
    lines += [
        "",
        f"Worker RSS: {m['rss_after_warmup_mb']} MB after warm-up, peak {m['rss_peak_mb']} MB during the overload "
        f"({m['growth_pct']} %).",
        f"Readiness: store stopped at {f['stop_at_s']:g} s → /readyz not ready after "
        f"{r['not_ready_after_stop_s']} s; started at {f['start_at_s']:g} s → ready again after "
        f"{r['ready_after_start_s']} s.",
        f"Audit: {a['rows']} rows for {a['audited_requests_answered']} audited requests answered "
        f"(lost: {a['lost']}).", "",
        "Acceptance: " + ", ".join(f"{k} {'yes' if v else ('n/a' if v is None else 'NO')}"
                                   for k, v in report["acceptance"].items()) + ".", "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The server at twice its capacity, then with its store down.")
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--employees", type=int, default=DEMO_EMPLOYEES)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the overload phase")
    parser.add_argument("--fault-seconds", type=float, default=FAULT_SECONDS)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="writes faults.json and faults.md here")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory, removed after")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.bench_faults " + " ".join(sys.argv[1:] if argv is None else argv)
    own = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="bench-faults-")) if own else args.workdir
    try:
        report = run(workdir / "run", store=args.store, employees=args.employees, seconds=args.seconds,
                     fault_seconds=args.fault_seconds)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    report["command"] = command.strip()
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "faults.json", report)
    (args.out / "faults.md").write_text(render_markdown(report, command.strip()))
    say(f"wrote {args.out / 'faults.md'}: {json.dumps(report['acceptance'])}")


if __name__ == "__main__":
    main()
