"""Request bodies of the HTTP API, and the answers that are the API's own (INTERFACES.md "Core bodies").

The engine's answers (gaps, recommendations, what-if, unit summary, plans) are not redefined here: the
routes return `engine.results` / `engine.plans` types as they are (their `response_model`), and
`POST /v1/plans` takes `engine.plans.PlanRequest` as its body. What is left is what only the API has:
problems, health, models, the audit trail, the employee profile, the inline-gaps and batch requests, and
the batch answer around the engine's recommendations.

Field names follow the spec exactly; enumerations come from `features.constants`. Requests carry
constraints (so bad input is a 422 naming the field) and an OpenAPI example each. Request models
ignore unknown fields, so a client that sends e.g. `birth_date` or `sex` inline is not refused — those
values are simply never read, stored or forwarded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from engine.results import EmployeeRecommendations, Recommendation
from features.constants import (
    ASSESSMENT_METHODS,
    DEFAULT_HORIZON_MONTHS,
    EDUCATIONS,
    EMPLOYMENTS,
    GRADES,
    JP_RIGHT_PER_YEAR,
    SKP_EXPECTATIONS,
    SKP_RATINGS,
    TRAINING_STATUSES,
)
from features.values import HorizonMonths, Identifier, RequestDate, Rupiah
from serving.audit import AuditRecord

if TYPE_CHECKING:  # the checker sees plain strings; at run time they are enumerations from the contract
    Grade: TypeAlias = str
    Employment: TypeAlias = str
    Education: TypeAlias = str
    Method: TypeAlias = str
    Rating: TypeAlias = str
    Expectation: TypeAlias = str
    TrainingStatus: TypeAlias = str
else:
    Grade = Literal[GRADES]
    Employment = Literal[EMPLOYMENTS]
    Education = Literal[EDUCATIONS]
    Method = Literal[ASSESSMENT_METHODS]
    Rating = Literal[SKP_RATINGS]
    Expectation = Literal[SKP_EXPECTATIONS]
    TrainingStatus = Literal[TRAINING_STATUSES]

Lang = Literal["id", "en"]
Role = Literal["reader", "planner", "admin"]

NIP_PATTERN = r"^[0-9]{18}$"
Nip = Annotated[str, StringConstraints(pattern=NIP_PATTERN)]
Level = Annotated[float, Field(ge=1.0, le=5.0)]

MAX_BATCH_NIPS = 1000
MAX_PLAN_TRAININGS = 20
MAX_RECOMMENDATIONS = 20
EXAMPLE_NIP = "198503122010011001"


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------
class ProblemFieldError(BaseModel):
    field: str = Field(description="the offending field, dotted for nested body fields")
    location: str = Field(description="path, query, body or request")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (served as application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    model_version: str | None = None
    errors: list[ProblemFieldError] | None = None


# ---------------------------------------------------------------------------------------------------
# Health, models, admin, audit
# ---------------------------------------------------------------------------------------------------
class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    model_version: str | None


class ReadyResponse(BaseModel):
    status: Literal["ready"] = "ready"
    model_version: str
    snapshot_id: str | None


class DataWindow(BaseModel):
    start: date | None = None
    end: date | None = None


class DriftFeature(BaseModel):
    feature: str
    psi: float | None


class DriftInfo(BaseModel):
    """Population drift (PSI) between the model's training population and the served store snapshot."""

    status: Literal["ok", "warning", "alert", "unknown", "pending"] = Field(
        description="ok (< 0.1), warning (0.1–0.25), alert (≥ 0.25: retrain); unknown when the model carries "
                    "no drift reference; pending while being computed")
    psi_max: float | None = None
    prediction_psi: float | None = None
    computed_at: datetime | None = None
    features: list[DriftFeature] = Field(default_factory=list, description="highest PSI first, at most 10")


class ModelInfo(BaseModel):
    model_version: str
    alias: Literal["champion"] = "champion"
    as_of: date | None = None
    data_window: DataWindow | None = None
    snapshot_id: str | None = Field(None, description="the store snapshot the model was trained on")
    trained_at: str | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    loaded_at: datetime | None = None
    drift: DriftInfo | None = None


class StoreInfo(BaseModel):
    snapshot_id: str | None
    exported_on: date | None
    organisation: str | None
    loaded_at: datetime | None


class ReloadRefusal(BaseModel):
    """Why the last candidate (a new champion or snapshot) was not swapped in; the served pair is unchanged."""

    outcome: Literal["failure", "warmup_failed"] = Field(
        description="failure: it could not be loaded; warmup_failed: it loaded but could not answer a known "
                    "employee")
    reason: str
    candidate_version: str | None = None
    at: datetime


class ModelsResponse(BaseModel):
    model_version: str
    models: list[ModelInfo]
    store: StoreInfo
    last_refusal: ReloadRefusal | None = Field(
        default=None, description="the last refused reload or poll, null once a reload succeeded")


class ReloadResponse(BaseModel):
    model_version: str | None
    previous_version: str | None
    snapshot_id: str | None
    previous_snapshot_id: str | None
    changed: bool


class AuditResponse(BaseModel):
    model_version: str | None
    since: datetime
    count: int
    truncated: bool = Field(description="more entries exist after the last one; ask again with a later since")
    items: list[AuditRecord]


# ---------------------------------------------------------------------------------------------------
# Employee profile
# ---------------------------------------------------------------------------------------------------
class UnitRef(BaseModel):
    unit_id: str
    name: str | None
    kind: str | None


class PositionRef(BaseModel):
    position_id: str
    title: str | None
    position_type: str | None
    job_family: str | None


class CurrentLevel(BaseModel):
    competency_id: str
    name: str | None
    kind: str | None
    level: float
    assessed_on: date
    method: str
    stale: bool = Field(description="older than the 3 years an assessment stays valid")
    required_level: int | None = Field(description="the position's standard, null when not required")


class JpProgress(BaseModel):
    year: int
    completed_jp: int
    right_jp: int = JP_RIGHT_PER_YEAR
    remaining_jp: int
    meets_right: bool
    trainings_completed: int


class EmployeeProfile(BaseModel):
    nip: str
    model_version: str | None
    as_of: date
    status: str
    unit: UnitRef
    position: PositionRef
    grade: str
    employment: str
    education: str
    hired_on: date | None
    years_of_service: int | None
    current_levels: list[CurrentLevel]
    jp: JpProgress


# ---------------------------------------------------------------------------------------------------
# POST /v1/predictions/gaps (the answer: engine.results.EmployeeGaps)
# ---------------------------------------------------------------------------------------------------
class InlineEmployee(RequestModel):
    position_id: Identifier
    unit_id: Identifier
    grade: Grade
    employment: Employment
    education: Education
    hired_on: RequestDate


class InlineAssessment(RequestModel):
    competency_id: Identifier
    assessed_on: RequestDate
    level: Level
    method: Method


class InlinePerformanceReview(RequestModel):
    year: int = Field(ge=1950, le=2100)
    rating: Rating
    work_result: Expectation
    work_behavior: Expectation


class InlineTrainingRecord(RequestModel):
    training_id: Identifier
    started_on: RequestDate
    completed_on: RequestDate | None = None
    status: TrainingStatus
    post_test_score: float | None = Field(None, ge=0, le=100)

    @model_validator(mode="after")
    def _dates_follow_the_contract(self) -> InlineTrainingRecord:
        if self.status == "selesai" and self.completed_on is None:
            raise ValueError("completed_on is required when status is selesai")
        if self.status == "berjalan" and self.completed_on is not None:
            raise ValueError("completed_on must be empty when status is berjalan")
        if self.completed_on is not None and self.completed_on < self.started_on:
            raise ValueError("completed_on must not be before started_on")
        return self


class GapPredictionRequest(RequestModel):
    """An employee who is not in the store, sent with the histories the prediction needs."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{
            "employee": {"position_id": "POS-001", "unit_id": "U-001", "grade": "III/a", "employment": "pns",
                         "education": "s1", "hired_on": "2018-03-01"},
            "assessments": [{"competency_id": "M-KOM", "assessed_on": "2024-05-14", "level": 2.4,
                             "method": "assessment_center"}],
            "performance_reviews": [{"year": 2024, "rating": "baik", "work_result": "sesuai_ekspektasi",
                                     "work_behavior": "sesuai_ekspektasi"}],
            "training_records": [{"training_id": "T-001", "started_on": "2024-02-05",
                                  "completed_on": "2024-02-09", "status": "selesai", "post_test_score": 82}],
            "horizon_months": 12,
        }]},
    )

    employee: InlineEmployee
    assessments: list[InlineAssessment] = Field(default_factory=list, max_length=2000)
    performance_reviews: list[InlinePerformanceReview] = Field(default_factory=list, max_length=100)
    training_records: list[InlineTrainingRecord] = Field(default_factory=list, max_length=1000)
    as_of: RequestDate | None = Field(None, description="default: the export date of the loaded snapshot")
    horizon_months: HorizonMonths = DEFAULT_HORIZON_MONTHS


# ---------------------------------------------------------------------------------------------------
# POST /v1/recommendations:batch (one NIP's answer: engine.results.EmployeeRecommendations)
# ---------------------------------------------------------------------------------------------------
class BatchRecommendationsRequest(RequestModel):
    """Up to 1,000 NIPs; an unknown NIP is reported in its own item and does not fail the batch."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"nips": [EXAMPLE_NIP, "199001252015032002"], "limit": 5}]},
    )

    nips: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=MAX_BATCH_NIPS,
    )
    limit: int = Field(5, ge=1, le=MAX_RECOMMENDATIONS)
    horizon_months: HorizonMonths = DEFAULT_HORIZON_MONTHS
    max_cost_idr: Rupiah | None = None
    max_jp: int | None = Field(None, ge=1, le=10_000)


@dataclass
class BatchItemError:
    status: Annotated[int, Field(description="404 unknown employee, 422 a NIP that is not 18 digits")]
    title: str
    detail: str


@dataclass
class BatchRecommendationsItem(EmployeeRecommendations):
    """One NIP of a batch that was answered: its recommendations body, with `error` null."""

    error: None = None


@dataclass
class BatchItemFailure:
    """One NIP of a batch that could not be answered: `error`, and no recommendations."""

    nip: str
    model_version: str
    error: BatchItemError
    as_of: None = None
    horizon_months: None = None
    total_gap: None = None
    items: list[Recommendation] = field(default_factory=list)
    message: None = None


class BatchRecommendationsResponse(BaseModel):
    model_version: str
    count: int
    failed: int
    items: list[BatchRecommendationsItem | BatchItemFailure]


# ---------------------------------------------------------------------------------------------------
# What-if (the answer: engine.results.WhatIf)
# ---------------------------------------------------------------------------------------------------
class WhatIfRequest(RequestModel):
    """Baseline vs a scenario: trainings completed just after the as-of date, and optionally another position."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"nip": EXAMPLE_NIP, "plan": ["T-001", "T-014"], "position_id": None,
                                         "horizon_months": 12}]},
    )

    nip: Nip
    plan: list[Identifier] = Field(default_factory=list, max_length=MAX_PLAN_TRAININGS)
    position_id: Identifier | None = None
    horizon_months: HorizonMonths = DEFAULT_HORIZON_MONTHS

    @field_validator("plan")
    @classmethod
    def _no_training_twice(cls, plan: list[str]) -> list[str]:
        seen: set[str] = set()
        for training_id in plan:
            if training_id in seen:
                raise ValueError(f"training {training_id} is listed twice")
            seen.add(training_id)
        return plan
