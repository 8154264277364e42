"""The inference engine: one picklable object, one method per answer (CLI, API, planner, batch files).

`Predictor` holds the fitted gap model (level at the horizon with its interval and explanation), the
effect estimator (what a plan of trainings adds to a competency; `engine.effects`) and `metadata`.
Every request does its work in one vectorised pass per step: build the features of all the rows it
needs (competencies × candidate plans), predict them in one call, aggregate with numpy.

Definitions (INTERFACES.md): predicted level given a plan = the gap model's level with the empty plan
plus the estimated effect τ of the plan on that competency (0 for competencies the plan does not target),
kept within the 1–5 scale; gap = max(0, required − predicted); expected gain of t = total gap(∅) −
total gap({t}). Recommendations rank eligible trainings by expected gain (ties: lower cost, then
training_id), keep only gains above `gain_epsilon` and never pad a list.

Evidence of a recommendation: the comparable past participants (`features.eligibility`: those whose
level before the training was in the employee's whole-level band) for the competency the training closes
most; `thin_evidence` when fewer than `thin_participants` of them, and then the interval's lower end is
set to 0 (too few people to rule out "no gain").

What does not depend on the request is built once per snapshot (the last two are kept; `warm` builds
them ahead of the first request): the point-in-time index, catalogue look-ups, and per as-of date the
eligibility of every employee, the comparable-participant evidence, JP this year and every unit's
learning-culture counts (`engine.culture`). A one-employee request then computes its own features, the
gap model, the point effect of each eligible training, and the effect model's bootstrap interval only for
the trainings it shows. The cache is dropped when pickling.

Configuration is given once, when a bundle is loaded (`configure`: the JPM band edges and the drift seed
of the deployment's Settings); nothing reads settings while answering. Until then, and for bundles
pickled before it existed, the Settings defaults apply.

The answers live by question, as mixins this class composes: `engine.gaps` (gaps, inline gaps),
`engine.recommend` (pair gains, recommendations, planner candidates, batch files), `engine.whatif`,
`engine.units_summary` (unit summary, drift); the per-snapshot tables are `engine.snapshot`, the shared
levels and validation `engine.core`. Fitting is `training.fit`: the server needs none of it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from typing import Any

from engine.completion import CompletionMixin
from engine.core import DEFAULT_JPM_BANDS, DEFAULT_SEED, GAIN_EPSILON, THIN_PARTICIPANTS
from engine.gaps import GapsMixin
from engine.recommend import RecommendMixin
from engine.snapshot import Context
from engine.units_summary import UnitSummaryMixin
from engine.whatif import WhatIfMixin
from features.export import Export


class Predictor(WhatIfMixin, UnitSummaryMixin, GapsMixin, RecommendMixin, CompletionMixin):
    """The model bundle the server loads (see the module docstring)."""

    def __init__(self, gap_model: Any, effect_model: Any, metadata: dict[str, Any] | None = None, *,
                 gain_epsilon: float = GAIN_EPSILON, thin_participants: int = THIN_PARTICIPANTS) -> None:
        self.gap_model = gap_model
        self.effect_model = effect_model
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.gain_epsilon = gain_epsilon
        self.thin_participants = thin_participants
        self.jpm_bands = DEFAULT_JPM_BANDS
        self.seed = DEFAULT_SEED
        self._lock = threading.Lock()
        self._cache: list[Context] = []
        self._culture = []

    def configure(self, *, jpm_bands: Sequence[float], seed: int) -> None:
        """The deployment's configuration (Settings.jpm_bands, Settings.seed), given once by whoever loads
        the bundle (server start-up and reload, batch score, `kompetensi plan`)."""
        low, high = jpm_bands
        self.jpm_bands = (float(low), float(high))
        self.seed = int(seed)

    # -- pickling: the cache and the lock stay behind ----------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        state.pop("_cache", None)
        state.pop("_culture", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Bundles pickled before the configuration existed: the Settings defaults until `configure`.
        self.__dict__.setdefault("jpm_bands", DEFAULT_JPM_BANDS)
        self.__dict__.setdefault("seed", DEFAULT_SEED)
        self._lock = threading.Lock()
        self._cache = []
        self._culture = []

    def warm(self, export: Export, as_of: date | None = None) -> None:
        """Build the per-snapshot tables a request at `as_of` (default: the export date) needs, so the first
        request does not pay for them (the server calls this before it starts serving a snapshot)."""
        as_of = self._as_of(export, as_of)
        ctx = self._context(export)
        self._evidence(ctx, as_of)
        self._eligibility(ctx, as_of)
        self._jp_year(ctx, as_of)
        self._culture_table(ctx, as_of)
