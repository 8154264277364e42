"""The engine's answers (INTERFACES.md "Core bodies"): the one definition of each, for every surface.

The engine builds them, the CLI and the planner read them, and the API returns them as they are: each is
the FastAPI `response_model` of its route, so /openapi.json documents these classes (the descriptions in
the `Field(...)` annotations) and pydantic writes an instance straight to JSON — no copy into another
shape on the way.

Plain (stdlib) dataclasses on purpose: a gaps answer holds ~3,000 values, and building dataclasses costs
no validation on the hot path; pydantic does not re-validate a dataclass instance it is handed, it only
serialises it. So the engine puts plain Python values in them (`float`, `int`, `str`, `date`, None, never
numpy scalars), and a missing or non-finite number as None (`features.values.finite`); should a NaN slip
through, pydantic writes it as JSON null (its `ser_json_inf_nan` default), never as an invalid `NaN`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field


@dataclass
class Contribution:
    """One feature's share of a predicted level."""

    feature: Annotated[str, Field(description="business name, e.g. \"Level Komunikasi terakhir\" (never a "
                                              "column name)")]
    value: Annotated[str, Field(description="the feature's value as shown to a person, e.g. \"2,4 (assessment "
                                            "center, 14 bulan lalu)\"")]
    contribution: Annotated[float, Field(description="in levels; base_value + Σ contribution == "
                                                     "predicted_level (1e-6)")]
    text: Annotated[str, Field(description="one sentence in the requested language")]


@dataclass
class Evidence:
    """Something a prediction rests on: an assessment it used, or a warning that evidence is thin."""

    kind: Annotated[str, Field(description="assessment, thin_evidence, …")]
    text: str
    date: dt.date | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Explanation:
    base_value: Annotated[float, Field(description="the model's starting point, in levels")]
    contributions: list[Contribution]
    evidence: list[Evidence]


@dataclass
class CompetencyGap:
    competency_id: str
    name: str
    required_level: Annotated[int, Field(description="the position's standard")]
    current_level: Annotated[float | None, Field(description="the latest assessed level on or before the as-of "
                                                             "date; null if never assessed")]
    predicted_level: Annotated[float, Field(description="expected assessed level at the horizon")]
    lower: Annotated[float, Field(description="80% prediction interval, lower end")]
    upper: Annotated[float, Field(description="80% prediction interval, upper end")]
    gap: Annotated[float, Field(description="max(0, required_level − predicted_level)")]
    jpm: Annotated[float, Field(description="job-person match in %: predicted level / required level × 100")]
    jpm_band: Annotated[str, Field(description="memenuhi_syarat, masih_memenuhi_syarat or kurang_memenuhi_syarat")]
    thin_evidence: Annotated[bool, Field(description="few or stale assessments: the prediction is less certain")]
    explanation: Explanation | None


@dataclass
class EmployeeGaps:
    """Per required competency: current, predicted level with interval, required level, gap, explanation."""

    nip: Annotated[str, Field(description="the employee's NIP (`inline` for an employee sent inline)")]
    model_version: str
    as_of: dt.date
    horizon_months: int
    position_id: Annotated[str, Field(description="the position whose standard the gaps are measured against")]
    total_gap: Annotated[float, Field(description="the sum of the gaps")]
    competencies: list[CompetencyGap]


@dataclass
class GapClosed:
    competency_id: str
    gap_before: float
    gap_after: float


@dataclass
class TrainingEvidence:
    """Comparable past participants against comparable non-participants over the same period: a difference
    in differences on matched records (`engine.evidence`). Comparable: same competency (the one the
    training closes most for this employee), same whole-level band before, similar time between the two
    assessments, same period, same required level."""

    participants: Annotated[int, Field(description="comparable past participants who completed the training, "
                                                   "assessed before and after it and matched to non-participants")]
    mean_observed_change: Annotated[float | None, Field(
        description="the participants' mean level change beyond that of comparable non-participants over the "
                    "same period (difference in differences, in levels); null without evidence. Not the raw "
                    "before → after, which regression to the mean inflates")]
    non_participants: Annotated[int, Field(description="assessment pairs of comparable non-participants (no "
                                                       "training in that competency in between) compared")] = 0
    mean_change_non_participants: Annotated[float | None, Field(
        description="their mean level change, adjusted to the participants' levels before; null without "
                    "evidence")] = None
    mean_change_participants: Annotated[float | None, Field(
        description="the participants' own mean change before → after; read it only beside "
                    "mean_change_non_participants (it equals mean_observed_change + "
                    "mean_change_non_participants)")] = None


@dataclass
class Recommendation:
    rank: Annotated[int, Field(description="1 = the highest expected gain")]
    training_id: str
    title: str
    format: str
    provider: str
    expected_gain: Annotated[float, Field(description="total gap with the empty plan − total gap with this "
                                                      "training (levels)")]
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
    """Eligible trainings ranked by expected gain, with the gaps they close, cost, JP, reasons, evidence."""

    nip: str
    model_version: str
    as_of: dt.date
    horizon_months: int
    total_gap: float
    items: list[Recommendation]
    message: Annotated[str | None, Field(description="e.g. \"no gap to close\", in the requested language")] = None


@dataclass
class CompetencyDelta:
    competency_id: str
    predicted_level_change: float
    gap_change: float


@dataclass
class WhatIf:
    """Baseline (empty plan, own position) against the scenario, per competency and in total."""

    nip: str
    model_version: str
    baseline: EmployeeGaps
    scenario: EmployeeGaps
    delta: list[CompetencyDelta]
    total_gap_before: float
    total_gap_after: float
    summary: Annotated[list[str], Field(description="what changed, as sentences")]


@dataclass
class UnitSummaryCompetency:
    competency_id: str
    name: str
    employees: Annotated[int, Field(description="employees whose position requires it")]
    mean_gap: float
    share_below_standard: Annotated[float, Field(description="share of them predicted below the standard")]


@dataclass
class CityRange:
    """The same figure over the city's units (each with its sub-units, as here) that have it (not
    suppressed): where this unit stands."""

    units: Annotated[int, Field(description="units in the distribution (those whose figure is not suppressed)")]
    p25: Annotated[float | None, Field(description="25th percentile of the units' figures; null without units")]
    median: Annotated[float | None, Field(description="median of the units' figures")]
    p75: Annotated[float | None, Field(description="75th percentile of the units' figures")]
    unit_percentile: Annotated[float | None, Field(
        description="this unit's percentile among them, 0–100: the share of units with a lower figure, "
                    "units level with it counted half; null when this unit's figure is suppressed")]


@dataclass
class CultureFigure:
    """One learning-culture figure of a unit: a share (0–1) over its people or enrolments, never a value
    per person; suppressed when fewer than `min_cell` people or enrolments are behind it."""

    value: Annotated[float | None, Field(description="the share, 0–1; null when suppressed")]
    basis: Annotated[int | None, Field(description="how many people (enrolments, for the completion rate) "
                                                   "the share is over; null when suppressed")]
    suppressed_reason: Annotated[str | None, Field(description="why the figure is hidden, in the requested "
                                                               "language; null when shown")]
    city: CityRange


@dataclass
class CultureYear:
    year: int
    complete: Annotated[bool, Field(description="false for the current year (so far, up to the as-of date)")]
    figure: Annotated[CultureFigure, Field(description="share of the staff in service on 1 January of the "
                                                       "year who completed at least 20 JP of training in it")]


@dataclass
class LearningCulture:
    """How the unit's active staff (with its sub-units) train, as of the snapshot date, beside the city's
    units: aggregates only, no names, NIPs or values per person (`engine.culture`)."""

    as_of: dt.date
    min_cell: Annotated[int, Field(description="a figure with fewer people or enrolments behind it is "
                                               "suppressed (small-cell disclosure)")]
    completion_months: Annotated[int, Field(description="the completion rate's window, in months")]
    completion_rate: Annotated[CultureFigure, Field(
        description="enrolments completed (selesai) / enrolments that ended (selesai + tidak_selesai) in the "
                    "last completion_months months; also suppressed when fewer than min_cell people hold them")]
    no_training_months: Annotated[int, Field(description="the no-training window, in months")]
    no_training_share: Annotated[CultureFigure, Field(
        description="share of the staff in service for the whole window who completed no training in the last "
                    "no_training_months months (lower is better)")]
    jp_right: Annotated[int, Field(description="JP of training per year every PNS has the right to")]
    jp_compliance: Annotated[list[CultureYear], Field(
        description="20 JP compliance for each of the last 3 complete years and the current year so far, "
                    "oldest first (unlike jp_compliance of the summary, only staff in service on 1 January "
                    "count, so that recent hires do not lower it)")]
    units_in_city: Annotated[int, Field(description="units of the city (units.csv)")]
    note: Annotated[str, Field(description="what the figures are, one sentence in the requested language")]


@dataclass
class UnitSummary:
    """A unit's (with its sub-units') gaps, JPM bands, JP compliance, most useful trainings and learning
    culture beside the city's units."""

    unit_id: str
    name: str
    model_version: str
    as_of: dt.date
    horizon_months: int
    employees: int
    competencies: list[UnitSummaryCompetency]
    gap_by_position_type: Annotated[list[dict[str, Any]], Field(description="{position_type, competency_id, "
                                                                            "mean_gap}")]
    jpm_bands: Annotated[dict[str, int], Field(description="band → number of employees (by mean JPM over "
                                                           "required competencies)")]
    jp_compliance: Annotated[dict[str, Any], Field(description="{year, employees_meeting_20_jp, share}")]
    top_trainings: Annotated[list[dict[str, Any]], Field(description="{training_id, title, "
                                                                     "employees_recommended, "
                                                                     "total_expected_gain}")]
    learning_culture: Annotated[LearningCulture, Field(
        description="completion rate, share without training and 20 JP compliance over the years, each beside "
                    "the city's distribution over units; aggregates only (issue 19)")]


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
