"""Result shapes of the inference engine (INTERFACES.md "Core bodies").

Plain dataclasses, shared by the CLI, the API (which wraps them in pydantic models) and the planner, so
that one function computes each answer and every surface shows the same numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any


@dataclass
class Contribution:
    feature: str  # business name, e.g. "Level Komunikasi terakhir" (never a raw column name)
    value: str  # the feature's value as shown to a person, e.g. "2,4 (assessment center, 14 bulan lalu)"
    contribution: float  # in levels; base_value + Σ contribution == predicted_level (1e-6)
    text: str  # one sentence in the requested language


@dataclass
class Evidence:
    kind: str  # "assessment", "training", "skp", "thin_evidence", ...
    text: str
    date: date | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Explanation:
    base_value: float
    contributions: list[Contribution]
    evidence: list[Evidence]


@dataclass
class CompetencyGap:
    competency_id: str
    name: str
    required_level: int
    current_level: float | None
    predicted_level: float
    lower: float
    upper: float
    gap: float
    jpm: float  # job-person match in %, predicted level / required level × 100
    jpm_band: str  # memenuhi_syarat, masih_memenuhi_syarat, kurang_memenuhi_syarat
    thin_evidence: bool
    explanation: Explanation | None


@dataclass
class EmployeeGaps:
    nip: str
    model_version: str
    as_of: date
    horizon_months: int
    position_id: str
    total_gap: float
    competencies: list[CompetencyGap]


@dataclass
class GapClosed:
    competency_id: str
    gap_before: float
    gap_after: float


@dataclass
class TrainingEvidence:
    participants: int  # comparable past participants who completed the training
    mean_observed_change: float | None  # their mean observed level change, before → after


@dataclass
class Recommendation:
    rank: int
    training_id: str
    title: str
    format: str
    provider: str
    expected_gain: float
    lower: float
    upper: float
    cost_idr: int
    hours_jp: int
    closes: list[GapClosed]
    reasons: list[str]
    evidence: TrainingEvidence
    thin_evidence: bool


@dataclass
class EmployeeRecommendations:
    nip: str
    model_version: str
    as_of: date
    horizon_months: int
    total_gap: float
    items: list[Recommendation]
    message: str | None = None  # e.g. "no gap to close", in the requested language


@dataclass
class CompetencyDelta:
    competency_id: str
    predicted_level_change: float
    gap_change: float


@dataclass
class WhatIf:
    nip: str
    model_version: str
    baseline: EmployeeGaps
    scenario: EmployeeGaps
    delta: list[CompetencyDelta]
    total_gap_before: float
    total_gap_after: float
    summary: list[str]  # what changed, as sentences


def to_dict(result: Any) -> dict[str, Any]:
    """A JSON-ready dict of a result dataclass (dates stay `date`; FastAPI serialises them)."""
    return asdict(result)


class EngineError(Exception):
    """A request the engine cannot answer because of its input (the API maps these to 404 / 422)."""

    status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownEmployee(EngineError):
    status = 404


class UnknownTraining(EngineError):
    status = 404


class UnknownPosition(EngineError):
    status = 404


class UnknownUnit(EngineError):
    status = 404


@dataclass
class UnitSummaryCompetency:
    competency_id: str
    name: str
    employees: int  # employees whose position requires it
    mean_gap: float
    share_below_standard: float  # predicted level < required level


@dataclass
class UnitSummary:
    unit_id: str
    name: str
    model_version: str
    as_of: date
    horizon_months: int
    employees: int
    competencies: list[UnitSummaryCompetency]
    gap_by_position_type: list[dict[str, Any]]  # {position_type, competency_id, mean_gap}
    jpm_bands: dict[str, int]  # band → number of employees (by mean JPM over required competencies)
    jp_compliance: dict[str, Any]  # {year, employees_meeting_20_jp, share}
    top_trainings: list[dict[str, Any]]  # {training_id, title, employees_recommended, total_expected_gain}
