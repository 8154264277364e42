"""Names fixed by the data contract (DATA_CONTRACT.md) and the definitions (INTERFACES.md).

Column names, enumerations and domain constants live here once; every other module imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

CONTRACT_VERSION = 1

# ---------------------------------------------------------------------------------------------
# Enumerations (DATA_CONTRACT.md)
# ---------------------------------------------------------------------------------------------
UNIT_KINDS = (
    "dinas", "badan", "sekretariat", "inspektorat", "kecamatan", "kelurahan", "satuan", "rsud",
    "puskesmas", "sekolah", "lainnya",
)
COMPETENCY_KINDS = ("manajerial", "sosial_kultural", "teknis")
POSITION_TYPES = (
    "jpt_pratama", "administrator", "pengawas", "pelaksana",
    "fungsional_ahli_utama", "fungsional_ahli_madya", "fungsional_ahli_muda", "fungsional_ahli_pertama",
    "fungsional_penyelia", "fungsional_mahir", "fungsional_terampil", "fungsional_pemula",
)
PNS_GRADES = (
    "I/a", "I/b", "I/c", "I/d", "II/a", "II/b", "II/c", "II/d", "III/a", "III/b", "III/c", "III/d",
    "IV/a", "IV/b", "IV/c", "IV/d", "IV/e",
)
PPPK_GRADES = tuple(f"pppk_{i}" for i in range(1, 18))
GRADES = PNS_GRADES + PPPK_GRADES
EMPLOYMENTS = ("pns", "pppk")
EDUCATIONS = ("sd", "smp", "sma", "d1", "d2", "d3", "d4", "s1", "s2", "s3")
SEXES = ("l", "p")
EMPLOYEE_STATUSES = ("aktif", "cuti", "tugas_belajar", "pensiun", "pindah")
ACTIVE_STATUS = "aktif"
# Trust order for same-day assessments: the first is trusted most.
ASSESSMENT_METHODS = ("assessment_center", "uji_kompetensi", "cat", "penilaian_360")
SKP_RATINGS = ("sangat_baik", "baik", "butuh_perbaikan", "kurang", "sangat_kurang")
SKP_EXPECTATIONS = ("diatas_ekspektasi", "sesuai_ekspektasi", "dibawah_ekspektasi")
TRAINING_FORMATS = ("klasikal", "e_learning", "blended", "coaching", "mentoring", "magang", "seminar", "workshop")
TRAINING_STATUSES = ("selesai", "tidak_selesai", "berjalan")


def skp_rating(work_result: str, work_behavior: str) -> str:
    """The SKP predicate for a (work result, work behaviour) pair (PermenPAN-RB 6/2022).

    above/above → sangat_baik; result as/above with behaviour as, or result as with behaviour above
    → baik; result below with behaviour as/above → butuh_perbaikan; result as/above with behaviour
    below → kurang; both below → sangat_kurang.
    """
    above, as_, below = SKP_EXPECTATIONS
    if work_result == above and work_behavior == above:
        return "sangat_baik"
    if work_result in (above, as_) and work_behavior == as_:
        return "baik"
    if work_result == as_ and work_behavior == above:
        return "baik"
    if work_result == below and work_behavior in (above, as_):
        return "butuh_perbaikan"
    if work_result in (above, as_) and work_behavior == below:
        return "kurang"
    return "sangat_kurang"


SKP_MATRIX: dict[tuple[str, str], str] = {
    (r, b): skp_rating(r, b) for r in SKP_EXPECTATIONS for b in SKP_EXPECTATIONS
}

# The PermenPAN-RB 38/2017 competencies that every export is expected to carry (name, kind).
MANAGERIAL_COMPETENCIES = (
    "Integritas", "Kerja Sama", "Komunikasi", "Orientasi pada Hasil", "Pelayanan Publik",
    "Pengembangan Diri dan Orang Lain", "Mengelola Perubahan", "Pengambilan Keputusan",
)
SOCIO_CULTURAL_COMPETENCIES = ("Perekat Bangsa",)

LEVEL_MIN = 1.0
LEVEL_MAX = 5.0
JP_RIGHT_PER_YEAR = 20  # PP 17/2020 Ps. 203(4)
ASSESSMENT_VALID_YEARS = 3  # Peraturan BKN 26/2019
DEFAULT_HORIZON_MONTHS = 12
# The longest horizon a prediction may ask for: the longest the training pairs show (features.pit_pairs),
# so the model never extrapolates. One constant (not an environment setting) because every request schema,
# the OpenAPI document, the CLI options and the engine's own check state it, and no deployment can make
# the model know more than it was trained on.
MAX_HORIZON_MONTHS = 36
# Dates a request or a command may carry: far inside pandas' Timestamp range (1677-09-21 … 2262-04-11),
# with room for a horizon added to an as-of date, and wider than any date of a civil servant's record.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)

# ---------------------------------------------------------------------------------------------
# Tables (DATA_CONTRACT.md): one spec per table, read by the validator, the store and the generator.
# ---------------------------------------------------------------------------------------------
ColumnType = Literal["str", "int", "decimal", "date", "bool", "enum", "enum_list"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = True  # the column must be present in the file
    nullable: bool = False  # an empty cell is allowed
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    protected: bool = False  # kept for fairness audits only; never a feature, never in a response


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # unique together
    optional: bool = False  # the whole file may be absent
    foreign_keys: tuple[tuple[str, str, str], ...] = field(default=())  # (column, table, column)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


UNITS = Table(
    "units",
    (
        Column("unit_id", "str"),
        Column("name", "str"),
        Column("kind", "enum", choices=UNIT_KINDS),
        Column("parent_unit_id", "str", required=False, nullable=True),
    ),
    key=("unit_id",),
    foreign_keys=(("parent_unit_id", "units", "unit_id"),),
)
COMPETENCIES = Table(
    "competencies",
    (
        Column("competency_id", "str"),
        Column("name", "str"),
        Column("kind", "enum", choices=COMPETENCY_KINDS),
    ),
    key=("competency_id",),
)
POSITIONS = Table(
    "positions",
    (
        Column("position_id", "str"),
        Column("title", "str"),
        Column("position_type", "enum", choices=POSITION_TYPES),
        Column("job_family", "str"),
    ),
    key=("position_id",),
)
POSITION_STANDARDS = Table(
    "position_standards",
    (
        Column("position_id", "str"),
        Column("competency_id", "str"),
        Column("required_level", "int", min=1, max=5),
    ),
    key=("position_id", "competency_id"),
    foreign_keys=(("position_id", "positions", "position_id"), ("competency_id", "competencies", "competency_id")),
)
EMPLOYEES = Table(
    "employees",
    (
        Column("nip", "str"),
        Column("unit_id", "str"),
        Column("position_id", "str"),
        Column("grade", "enum", choices=GRADES),
        Column("employment", "enum", choices=EMPLOYMENTS),
        Column("education", "enum", choices=EDUCATIONS),
        Column("hired_on", "date"),
        Column("birth_date", "date", protected=True),
        Column("sex", "enum", choices=SEXES, protected=True),
        Column("status", "enum", choices=EMPLOYEE_STATUSES),
    ),
    key=("nip",),
    foreign_keys=(("unit_id", "units", "unit_id"), ("position_id", "positions", "position_id")),
)
ASSESSMENTS = Table(
    "assessments",
    (
        Column("nip", "str"),
        Column("competency_id", "str"),
        Column("assessed_on", "date"),
        Column("level", "decimal", min=LEVEL_MIN, max=LEVEL_MAX),
        Column("method", "enum", choices=ASSESSMENT_METHODS),
    ),
    key=("nip", "competency_id", "assessed_on", "method"),
    foreign_keys=(("nip", "employees", "nip"), ("competency_id", "competencies", "competency_id")),
)
PERFORMANCE_REVIEWS = Table(
    "performance_reviews",
    (
        Column("nip", "str"),
        Column("year", "int"),
        Column("rating", "enum", choices=SKP_RATINGS),
        Column("work_result", "enum", choices=SKP_EXPECTATIONS),
        Column("work_behavior", "enum", choices=SKP_EXPECTATIONS),
    ),
    key=("nip", "year"),
    foreign_keys=(("nip", "employees", "nip"),),
)
TRAININGS = Table(
    "trainings",
    (
        Column("training_id", "str"),
        Column("title", "str"),
        Column("format", "enum", choices=TRAINING_FORMATS),
        Column("hours_jp", "int", min=1, max=1000),
        Column("cost_idr", "int", min=0),
        Column("provider", "str"),
        Column("eligible_position_types", "enum_list", nullable=True, choices=POSITION_TYPES),
        Column("eligible_employment", "enum_list", required=False, nullable=True, choices=EMPLOYMENTS),
        Column("max_years_of_service", "int", required=False, nullable=True, min=0),
        Column("active", "bool"),
    ),
    key=("training_id",),
)
TRAINING_TARGETS = Table(
    "training_targets",
    (
        Column("training_id", "str"),
        Column("competency_id", "str"),
        Column("min_level", "int", min=1, max=5),
        Column("max_level", "int", min=1, max=5),
    ),
    key=("training_id", "competency_id"),
    foreign_keys=(("training_id", "trainings", "training_id"), ("competency_id", "competencies", "competency_id")),
)
TRAINING_RECORDS = Table(
    "training_records",
    (
        Column("nip", "str"),
        Column("training_id", "str"),
        Column("started_on", "date"),
        Column("completed_on", "date", required=False, nullable=True),
        Column("status", "enum", choices=TRAINING_STATUSES),
        Column("post_test_score", "decimal", required=False, nullable=True, min=0, max=100),
    ),
    foreign_keys=(("nip", "employees", "nip"), ("training_id", "trainings", "training_id")),
)
AWARDS = Table(
    "awards",
    (
        Column("nip", "str"),
        Column("year", "int"),
        Column("kind", "str"),
    ),
    optional=True,
    foreign_keys=(("nip", "employees", "nip"),),
)

TABLES: tuple[Table, ...] = (
    UNITS, COMPETENCIES, POSITIONS, POSITION_STANDARDS, EMPLOYEES, ASSESSMENTS, PERFORMANCE_REVIEWS,
    TRAININGS, TRAINING_TARGETS, TRAINING_RECORDS, AWARDS,
)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
EXPORT_META_FILE = "export.json"

# Protected attributes: read only by the fairness audit, never features, never in responses or logs.
PROTECTED_COLUMNS = ("birth_date", "sex", "nip_birth_date", "nip_sex_digit")

# Batch files written by `kompetensi score` (INTERFACES.md), in this column order.
GAPS_COLUMNS = (
    "nip", "competency_id", "as_of", "horizon_months", "current_level", "predicted_level", "lower", "upper",
    "required_level", "gap", "model_version",
)
RECOMMENDATIONS_COLUMNS = ("nip", "rank", "training_id", "expected_gain", "cost_idr", "hours_jp", "model_version")

# Ground truth written by `kompetensi generate` into DIR/truth/.
TRUTH_LEVELS_COLUMNS = ("nip", "competency_id", "as_of", "horizon_months", "expected_level_no_plan")
TRUTH_EFFECTS_COLUMNS = ("nip", "training_id", "expected_gain")

# Candidate (employee, training) pairs handed by the recommendation engine to the plan optimiser
# (training/planner.py). competency_ids: tuple[str, ...], the competencies whose gap the training
# closes for this employee; total_gap_before and jp_this_year are per employee (repeated on each row).
CANDIDATE_COLUMNS = (
    "nip", "training_id", "expected_gain", "cost_idr", "hours_jp", "competency_ids", "unit_id",
    "total_gap_before", "jp_this_year",
)

# Budget plans (training/plans.py behind POST /v1/plans and `kompetensi plan`): defaults and limits shared by
# the engine, the API schema and the CLI.
PLAN_DEFAULT_TIME_LIMIT_S = 30.0  # seconds per solve: the plan, and each point of the budget curve
PLAN_MAX_TIME_LIMIT_S = 300.0
PLAN_DEFAULT_MAX_TRAININGS_PER_EMPLOYEE = 2
PLAN_DEFAULT_CANDIDATES_PER_EMPLOYEE = 5  # pairs kept per employee by gain, and as many by gain per Rupiah
PLAN_MAX_CURVE_BUDGETS = 12
