"""What the server serves: the champion model bundle and the current store snapshot, swapped atomically.

`ServingState` is an immutable pair (model, export). Handlers take one reference to the current state at
the start of a request and use only it, so a reload never changes the model or the data under a request
in flight: it builds a complete new state and replaces the reference in one assignment. A bundle that
fails verification or loading is refused and the old state keeps serving.

A candidate pair is also tried before the swap (`_verify`): its per-snapshot tables are built and it must
answer a gaps and a recommendations call for a known active employee of the snapshot, with finite
levels. A bundle that unpickles but cannot answer (a broken or incompatible model, a snapshot it cannot
read) is refused there, counted as `kompetensi_model_reloads{outcome="warmup_failed"}` and described
in `GET /v1/models` (`last_refusal`), and the old pair keeps serving; at start-up, with no old pair, the
model is not served at all (model routes answer 503) rather than failing every request.

Population drift (PSI, `Predictor.drift_summary`) is computed once per (model, snapshot) pair, in a
background thread started when a new pair is published: startup, reloads and requests never wait for it.
Until it is done the pair's `DriftStatus` is "pending"; a result for a pair that is no longer served is
dropped.

The sources (bundle loader, store) are imported lazily, so importing this module loads no numpy and
touches no file.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.bundle import load_champion as load
from engine.bundle import read_champion_pointer
from serving import store_source

if TYPE_CHECKING:
    from features.export import Export
    from features.settings import Settings
    from serving.metrics import Metrics

log = logging.getLogger("serving.runtime")


@dataclass(frozen=True)
class ServingState:
    """One consistent (model, snapshot) pair; never mutated after it is published."""

    predictor: Any = None  # engine.predictor.Predictor (the bundle object); None = no model
    model_version: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    bundle_path: Path | None = None
    export: Export | None = None
    snapshot_id: str | None = None
    model_loaded_at: datetime | None = None
    snapshot_loaded_at: datetime | None = None

    @property
    def has_model(self) -> bool:
        return self.predictor is not None

    @property
    def ready(self) -> bool:
        return self.predictor is not None and self.export is not None

    @property
    def metadata(self) -> dict[str, Any]:
        meta = getattr(self.predictor, "metadata", None)
        return dict(meta) if isinstance(meta, dict) else {}


DriftKey = tuple[str | None, str | None, str | None]  # (model version, bundle path, snapshot id)


def drift_key(state: ServingState) -> DriftKey:
    """What identifies a (model, snapshot) pair: a version directory and a snapshot id never change."""
    return (state.model_version, str(state.bundle_path) if state.bundle_path else None, state.snapshot_id)


@dataclass(frozen=True)
class DriftStatus:
    """The drift of one (model, snapshot) pair: "pending" until computed, then ok/warning/alert/unknown."""

    key: DriftKey
    status: str = "pending"
    psi_max: float | None = None
    prediction_psi: float | None = None
    features: dict[str, float | None] = field(default_factory=dict)  # feature -> PSI
    computed_at: datetime | None = None


class ReloadRefused(Exception):
    """The new champion (or snapshot) could not be loaded; the previous state is still served.

    `outcome` is the metric label: "failure" (not loaded) or "warmup_failed" (loaded, could not answer)."""

    def __init__(self, message: str, *, outcome: str = "failure", candidate_version: str | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.candidate_version = candidate_version


WARMUP_FAILED = "warmup_failed"
WARMUP_EMPLOYEES = 5  # active employees tried in turn: one the engine refuses (no position data) is skipped


@dataclass(frozen=True)
class Refusal:
    """Why the last candidate was not swapped in (GET /v1/models `last_refusal`); cleared by a good reload."""

    outcome: str
    reason: str
    candidate_version: str | None
    at: datetime


@dataclass(frozen=True)
class ReloadOutcome:
    previous_version: str | None
    model_version: str | None
    previous_snapshot_id: str | None
    snapshot_id: str | None

    @property
    def changed(self) -> bool:
        return (self.previous_version, self.previous_snapshot_id) != (self.model_version, self.snapshot_id)


@dataclass
class Sources:
    """How the runtime reads the champion and the store; the defaults are the real ones."""

    read_pointer: Callable[[Path], str | None]
    load_champion: Callable[[Path], Any]  # -> engine.bundle.LoadedBundle
    snapshot_id: Callable[[], str | None]
    load_snapshot: Callable[[], Export | None]


def default_sources(settings: Settings) -> Sources:
    """The champion from `settings.models_dir`, the snapshot from the store at `settings.store_url`."""

    def read_pointer(models_dir: Path) -> str | None:

        return read_champion_pointer(models_dir)

    def load_champion(models_dir: Path) -> Any:
        loaded = load(models_dir)
        configure = getattr(loaded.bundle, "configure", None)
        if callable(configure):  # the deployment's settings, given once: no request reads them
            configure(jpm_bands=settings.jpm_bands, seed=settings.seed)
        return loaded

    def snapshot_id() -> str | None:

        return store_source.current_snapshot_id(settings)

    def load_snapshot() -> Export | None:

        return store_source.load_current_snapshot(settings)

    return Sources(read_pointer, load_champion, snapshot_id, load_snapshot)


class Runtime:
    """Holds the current `ServingState`, reloads it on demand and polls for a new champion or snapshot."""

    def __init__(self, models_dir: Path, sources: Sources, metrics: Metrics | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.sources = sources
        self.metrics = metrics
        self._state = ServingState()
        self._reload_lock = threading.Lock()  # one reload at a time (admin call vs poller)
        self._failed_pointer: str | None = None  # a champion that failed: the poller does not retry it
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.last_error: str | None = None
        self.last_refusal: Refusal | None = None
        self._failed_snapshot: str | None = None  # a snapshot the served model could not answer on
        self._drift: DriftStatus | None = None  # of the last published pair that has a model and a snapshot
        self._drift_lock = threading.Lock()

    @property
    def current(self) -> ServingState:
        """The state to use for a whole request (take it once, at the start)."""
        return self._state

    def _publish(self, state: ServingState) -> None:
        """Swap `state` in; call `_verify` first for a pair that has not been served yet."""
        self._state = state  # a single reference assignment: atomic for readers
        if self.metrics is not None:
            self.metrics.set_served(state.model_version, state.snapshot_id, state.ready)
        self._schedule_drift(state)

    # -- drift -----------------------------------------------------------------------------------
    def drift_for(self, state: ServingState) -> DriftStatus | None:
        """The drift of `state`'s pair: None without a model or snapshot, "pending" until computed."""
        if not state.ready:
            return None
        key = drift_key(state)
        current = self._drift
        return current if current is not None and current.key == key else DriftStatus(key)

    def _schedule_drift(self, state: ServingState) -> None:
        """Start computing the drift of a newly published pair (nothing to do for the same pair)."""
        key = drift_key(state) if state.ready else None
        with self._drift_lock:
            if key is not None and self._drift is not None and self._drift.key == key:
                return
            self._drift = DriftStatus(key) if key is not None else None
            self._set_drift_metrics(self._drift)  # under the lock: a finishing thread cannot interleave
        if key is None:
            return
        thread = threading.Thread(target=self._compute_drift, args=(state, key), name="drift", daemon=True)
        thread.start()

    def _compute_drift(self, state: ServingState, key: DriftKey) -> None:
        summary: dict[str, Any] = {"status": "unknown"}
        try:
            drift_summary = getattr(state.predictor, "drift_summary", None)
            if callable(drift_summary):  # a bundle pickled before drift_summary existed has none
                summary = drift_summary(state.export)
        except Exception as exc:  # noqa: BLE001 - drift_summary should not raise; a thread must not die loudly
            log.warning("drift not computed: %s", _reason(exc))
        result = DriftStatus(
            key, status=str(summary.get("status") or "unknown"), psi_max=summary.get("psi_max"),
            prediction_psi=summary.get("prediction_psi"), features=dict(summary.get("features") or {}),
            computed_at=datetime.now(UTC),
        )
        with self._drift_lock:
            if self._drift is None or self._drift.key != key:
                return  # another pair was published meanwhile: this result describes nothing served
            self._drift = result
            self._set_drift_metrics(result)
        log.info("drift of model %s on snapshot %s: %s (max PSI %s)", key[0], _short(key[2]), result.status,
                 result.psi_max)

    def _set_drift_metrics(self, drift: DriftStatus | None) -> None:
        if self.metrics is None:
            return
        if drift is None:
            self.metrics.set_drift("unknown", {})
        else:
            self.metrics.set_drift(drift.status, {**drift.features, "prediction": drift.prediction_psi})

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.reloads.labels(outcome).inc()

    def _refused(self, exc: ReloadRefused) -> None:
        """Record a refused candidate: the error, the metric, and the reason GET /v1/models shows."""
        self.last_error = str(exc)
        self.last_refusal = Refusal(exc.outcome, str(exc), exc.candidate_version, datetime.now(UTC))
        self._count(exc.outcome)

    def _verify(self, state: ServingState, old: ServingState) -> None:
        """Before the swap: a new pair (model or snapshot) must build its tables and answer a known employee
        (`warm_up`); otherwise `ReloadRefused(outcome="warmup_failed")` and `old` keeps serving."""
        if state.predictor is None or state.export is None or drift_key(state) == drift_key(old):
            return
        try:
            warm_up(state.predictor, state.export)
        except Exception as exc:  # noqa: BLE001 - whatever the candidate raises refuses it
            raise ReloadRefused(f"model {state.model_version} failed its warm-up prediction on snapshot "
                                f"{_short(state.snapshot_id)}: {_redact(_reason(exc))}", outcome=WARMUP_FAILED,
                                candidate_version=state.model_version) from exc

    # -- loading ---------------------------------------------------------------------------------
    def _load_model(self, state: ServingState) -> ServingState:
        try:
            loaded = self.sources.load_champion(self.models_dir)
        except Exception as exc:  # noqa: BLE001 - BundleError or anything unpickling raised
            raise ReloadRefused(f"champion bundle refused: {_reason(exc)}") from exc
        predictor = loaded.bundle
        if not callable(getattr(predictor, "gaps", None)):
            raise ReloadRefused(f"champion bundle {loaded.version} holds no predictor")
        _one_thread(predictor)
        meta = getattr(predictor, "metadata", None)
        if isinstance(meta, dict) and not meta.get("model_version"):
            # An unregistered bundle: name it by its directory so every answer carries one version.
            meta["model_version"] = str(loaded.version)
        version = str((meta or {}).get("model_version") or loaded.version)
        return replace(state, predictor=predictor, model_version=version, manifest=dict(loaded.manifest),
                       bundle_path=Path(loaded.path), model_loaded_at=datetime.now(UTC))

    def _load_snapshot(self, state: ServingState) -> ServingState:
        try:
            snapshot_id = self.sources.snapshot_id()
            if snapshot_id is not None and snapshot_id == state.snapshot_id and state.export is not None:
                return state
            export = self.sources.load_snapshot()
        except Exception as exc:  # noqa: BLE001 - a store error must not take the old snapshot down
            raise ReloadRefused(f"store snapshot not loaded: {_reason(exc)}") from exc
        if export is None:
            return replace(state, export=None, snapshot_id=None, snapshot_loaded_at=None)
        # The server never needs protected attributes: drop them once, here, so no handler can leak them.
        export = export.without_protected()
        return replace(state, export=export, snapshot_id=snapshot_id or export.snapshot_id,
                       snapshot_loaded_at=datetime.now(UTC))

    def load_initial(self) -> None:
        """Start-up load: whatever is missing or broken is logged, and the app starts without it."""
        with self._reload_lock:
            state = self._state
            if self._safe_pointer() is not None:
                try:
                    state = self._load_model(state)
                except ReloadRefused as exc:
                    self.last_error = str(exc)
                    self._failed_pointer = self._safe_pointer()
                    log.warning("%s", exc)
            else:
                log.warning("no champion in %s: model routes answer 503 until one is promoted", self.models_dir)
            try:
                state = self._load_snapshot(state)
            except ReloadRefused as exc:
                self.last_error = str(exc)
                log.warning("%s", exc)
            try:
                self._verify(state, self._state)
            except ReloadRefused as exc:  # no old model to keep: serve none rather than a broken one
                self._refused(exc)
                self._failed_pointer = self._safe_pointer()
                log.warning("%s; no model is served", exc)
                state = replace(state, predictor=None, model_version=None, manifest={}, bundle_path=None,
                                model_loaded_at=None)
            self._publish(state)

    def reload(self) -> ReloadOutcome:
        """Load the current champion and store snapshot; raise `ReloadRefused` and keep serving on failure."""
        with self._reload_lock:
            old = self._state
            try:
                try:
                    pointer = self.sources.read_pointer(self.models_dir)
                except Exception as exc:  # noqa: BLE001 - a garbled pointer refuses the reload
                    raise ReloadRefused(f"champion pointer unreadable: {_reason(exc)}") from exc
                if pointer is None and old.predictor is None:
                    raise ReloadRefused(f"no champion in {self.models_dir}: run `kompetensi promote` first")
                # A version directory is immutable: the same pointer means the same bundle, no need to load.
                same = old.bundle_path is not None and pointer in (None, old.bundle_path.name)
                try:
                    state = old if same else self._load_model(old)
                except ReloadRefused:
                    self._failed_pointer = pointer  # the poller need not try this one again
                    raise
                state = self._load_snapshot(state)
                self._verify(state, old)
            except ReloadRefused as exc:
                if exc.outcome == WARMUP_FAILED and not same:
                    self._failed_pointer = pointer
                self._refused(exc)
                log.warning("reload refused, still serving %s: %s", old.model_version, exc)
                raise
            self._failed_pointer = None
            self._failed_snapshot = None
            self.last_error = None
            self.last_refusal = None
            self._publish(state)
            self._count("success")
            outcome = ReloadOutcome(old.model_version, state.model_version, old.snapshot_id, state.snapshot_id)
            log.info("reloaded: model %s -> %s", old.model_version, state.model_version)
            return outcome

    def _safe_pointer(self) -> str | None:
        try:
            return self.sources.read_pointer(self.models_dir)
        except Exception as exc:  # noqa: BLE001 - a garbled pointer is "no usable champion"
            self.last_error = _reason(exc)
            return None

    # -- polling ---------------------------------------------------------------------------------
    def poll_once(self) -> bool:
        """Reload when the champion pointer or the store snapshot changed; True when something was swapped."""
        state = self._state
        pointer = self._safe_pointer()
        model_changed = (
            pointer is not None and pointer != self._failed_pointer
            and (state.bundle_path is None or pointer != state.bundle_path.name)
        )
        try:
            snapshot_id = self.sources.snapshot_id()
            snapshot_changed = snapshot_id not in (state.snapshot_id, self._failed_snapshot)
        except Exception:  # noqa: BLE001 - a store hiccup is retried on the next poll
            snapshot_changed = False
        if not (model_changed or snapshot_changed):
            return False
        with self._reload_lock:
            old = self._state
            try:
                new = self._load_model(old) if model_changed else old
            except ReloadRefused as exc:
                self._failed_pointer = pointer
                self._refused(exc)
                log.warning("poll: %s; still serving %s", exc, old.model_version)
                new = old
            try:
                new = self._load_snapshot(new)
            except ReloadRefused as exc:
                self._refused(exc)
                log.warning("poll: %s", exc)
            if new is old:
                return False
            try:
                self._verify(new, old)
            except ReloadRefused as exc:
                # Blame the new model when there is one (the poller will not retry it; with the old model the
                # new snapshot is tried on the next poll), else the new snapshot.
                if new.bundle_path != old.bundle_path:
                    self._failed_pointer = pointer
                else:
                    self._failed_snapshot = new.snapshot_id
                self._refused(exc)
                log.warning("poll: %s; still serving %s", exc, old.model_version)
                return False
            self.last_refusal = None
            self._publish(new)
            self._count("success")
            log.info("poll: now serving model %s, snapshot %s", new.model_version, _short(new.snapshot_id))
            return True

    def start_polling(self, interval_seconds: float) -> None:
        if self._poller is not None and self._poller.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.poll_once()
                except Exception as exc:  # noqa: BLE001 - the poller must survive anything
                    log.warning("poll failed: %s", _reason(exc))

        self._poller = threading.Thread(target=loop, name="champion-poller", daemon=True)
        self._poller.start()

    def stop_polling(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
            self._poller = None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:500]


def _short(snapshot_id: str | None) -> str:
    return (snapshot_id or "none")[:12]


def _redact(text: str) -> str:
    """An error text fit for an answer and a log line: digit runs that could be a NIP (whose leading digits
    are a birth date) are blanked."""
    return _DIGIT_RUN.sub("…", text)


_DIGIT_RUN = re.compile(r"\d{6,}")


def warm_up(predictor: Any, export: Export) -> None:
    """Build the per-snapshot tables of a candidate pair (`Predictor.warm`: index, eligibility, evidence,
    JP), so that its first requests do not pay for them, then ask it what requests ask: gaps and
    recommendations for a known active employee, with finite levels. Raises whatever the candidate raises
    (a failed `warm` too: every request would fail building the same tables)."""
    warm = getattr(predictor, "warm", None)
    if callable(warm):
        warm(export)
    from engine.results import EngineError

    known = _known_employees(export)
    if not known:
        return  # a snapshot without active employees: nothing to ask (and every request would be a 404)
    refused: list[str] = []
    for nip in known:
        try:
            gaps = predictor.gaps(export, nip)
            predictor.recommend(export, nip, limit=1)
        except EngineError as exc:  # this employee cannot be answered (data, not model): try the next one
            refused.append(type(exc).__name__)
            continue
        levels = [v for c in gaps.competencies for v in (c.predicted_level, c.lower, c.upper)]
        if not all(_finite(v) for v in levels):
            raise ValueError("the warm-up prediction has levels that are not finite numbers")
        return
    raise ValueError(f"no active employee of the snapshot could be answered ({', '.join(refused) or 'none'})")


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _known_employees(export: Export) -> list[str]:
    """The first active employees of the snapshot by NIP: the same ones for every reload of a snapshot."""
    employees = export["employees"]
    active = employees.loc[employees["status"] == "aktif", "nip"] if "status" in employees else employees["nip"]
    return sorted(str(nip) for nip in active)[:WARMUP_EMPLOYEES]


def _one_thread(predictor: Any) -> None:
    """Predict on one native thread per request: the server scales with requests and workers, not threads.

    LightGBM turns the n_jobs a model was trained with (-1: every core) into an explicit thread count at
    predict time, ignoring OMP_NUM_THREADS, so concurrent requests would oversubscribe the cores
    (STACK_NOTES.md). The bundle offers `set_threads` for this (on the predictor or its gap model).
    """
    for owner in (predictor, getattr(predictor, "gap_model", None)):
        set_threads = getattr(owner, "set_threads", None)
        if callable(set_threads):
            set_threads(1)
            return
