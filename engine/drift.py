"""Data drift: population stability (PSI) of each model feature and of the predictions, between the
population a model version was trained for and the current store snapshot (`kompetensi drift`).

Populations compared like with like: the rows the model scores, i.e. the prediction queries (active
employees × the competencies their position requires, empty plan, default horizon) as of each
snapshot's export date. The training pairs themselves are not the reference: their as-of dates, horizons
and plans differ by construction from a scoring population, so they would always look "drifted". The
reference is profiled at training time (`attach_reference`, called by `pipeline.train`) and travels in
the bundle (`metadata["drift_reference"]`: bin edges and shares, no employee data), so the server and
the CLI can compare any snapshot with it without the training snapshot at hand.

PSI = Σ_b (c_b − r_b) · ln(c_b / r_b) over bins b, with r and c the reference and current shares:
numeric features are cut at the reference's deciles (plus one bin for missing values), categorical
ones by the reference's categories (plus one bin for unseen ones); shares are floored at 1e-4 so that
a newly empty or newly filled bin counts as large, not infinite. Plan features (all zero with the empty
plan) and the constants horizon_months and target_method are left out.

Thresholds, the credit-scoring convention PSI comes from (Siddiqi 2006, *Credit Risk Scorecards*):
< 0.1 "ok" (no meaningful shift), 0.1–0.25 "warning" (a moderate shift: look at the features named),
≥ 0.25 "alert" (a major shift: re-evaluate, most likely retrain). The report's `status` is the worst
over the predictions and every feature. For a large snapshot, at most `max_employees` active employees
(seeded sample) are profiled: PSI of deciles is stable long before that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from engine.explain import LABELS
from features.constants import DEFAULT_HORIZON_MONTHS
from features.export import Export
from features.pit import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    PLAN_FEATURES,
    PitIndex,
    build_features,
    prediction_queries,
)

PSI_WARNING = 0.1
PSI_ALERT = 0.25
STATUSES = ("ok", "warning", "alert")
N_BINS = 10
MIN_SHARE = 1e-4
MAX_EMPLOYEES = 20_000
MISSING = "__missing__"
OTHER = "__other__"
PREDICTION = "predicted_level"
REFERENCE_KEY = "drift_reference"
_CONSTANT_FEATURES = ("horizon_months", "target_method")  # the same on every scoring row


def status_of(psi: float) -> str:
    """"ok" below 0.1, "warning" below 0.25, else "alert" (a NaN PSI counts as ok: nothing to compare)."""
    if not psi >= PSI_WARNING:
        return "ok"
    return "warning" if psi < PSI_ALERT else "alert"


def drift_features() -> tuple[list[str], list[str]]:
    """(categorical, numeric) features whose drift is measured."""

    skip = set(PLAN_FEATURES) | set(_CONSTANT_FEATURES)
    return ([f for f in CATEGORICAL_FEATURES if f not in skip], [f for f in NUMERIC_FEATURES if f not in skip])


# ---------------------------------------------------------------------------------------------------
# Profiles and PSI
# ---------------------------------------------------------------------------------------------------
def _categories(values: pd.Series) -> np.ndarray:
    return values.astype("object").where(values.notna(), MISSING).astype(str).to_numpy()


def profile_numeric(values: np.ndarray) -> dict[str, Any]:
    """Decile cut points of `values` and the share of each bin (last bin = missing)."""
    x = np.asarray(values, dtype=np.float64)
    present = x[np.isfinite(x)]
    # Cut points are observed values (inverted CDF), so a discrete feature gets one bin per value.
    cuts = np.linspace(0, 1, N_BINS + 1)[1:-1]
    edges = np.unique(np.quantile(present, cuts, method="inverted_cdf")) if present.size else np.zeros(0)
    return {"kind": "numeric", "edges": [float(e) for e in edges],
            "shares": [float(s) for s in _numeric_shares(x, edges)]}


def _numeric_shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    finite = np.isfinite(x)
    bins = np.where(finite, np.searchsorted(edges, np.where(finite, x, 0.0), side="left"), len(edges) + 1)
    counts = np.bincount(bins, minlength=len(edges) + 2).astype(np.float64)
    return counts / max(len(x), 1)


def profile_categorical(values: pd.Series) -> dict[str, Any]:
    """The categories of `values` (missing as its own category) and their shares; OTHER gets 0."""
    cats = _categories(values)
    names, counts = np.unique(cats, return_counts=True)
    shares = counts / max(len(cats), 1)
    return {"kind": "categorical", "categories": [str(n) for n in names] + [OTHER],
            "shares": [float(s) for s in shares] + [0.0]}


def shares_like(profile: dict[str, Any], values: pd.Series | np.ndarray) -> np.ndarray:
    """The shares of `values` in the bins of `profile`."""
    if profile["kind"] == "numeric":
        return _numeric_shares(np.asarray(values, dtype=np.float64), np.asarray(profile["edges"], dtype=np.float64))
    cats = _categories(pd.Series(values))
    known = {c: i for i, c in enumerate(profile["categories"])}
    other = known[OTHER]
    idx = np.fromiter((known.get(c, other) for c in cats), dtype=np.int64, count=len(cats))
    return np.bincount(idx, minlength=len(known)).astype(np.float64) / max(len(cats), 1)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins (floored at MIN_SHARE)."""
    r = np.maximum(np.asarray(reference, dtype=np.float64), MIN_SHARE)
    c = np.maximum(np.asarray(current, dtype=np.float64), MIN_SHARE)
    return float(np.sum((c - r) * np.log(c / r)))


# ---------------------------------------------------------------------------------------------------
# The scoring population of a snapshot
# ---------------------------------------------------------------------------------------------------
def scoring_population(export: Export, gap_model: Any, *, as_of: date | None = None,
                       max_employees: int = MAX_EMPLOYEES, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """(features, predicted levels) of the prediction queries of `export` as of `as_of` (default: its
    export date), empty plan; at most `max_employees` active employees (seeded sample)."""

    public = export.without_protected()
    index = PitIndex.build(public)
    queries = prediction_queries(index, as_of or public.exported_on, DEFAULT_HORIZON_MONTHS)
    nips = queries["nip"].drop_duplicates()
    if len(nips) > max_employees:
        keep = nips.sample(n=max_employees, random_state=seed)
        queries = queries[queries["nip"].isin(set(keep))].reset_index(drop=True)
    if queries.empty:
        raise ValueError("the snapshot has no active employee with a required competency: nothing to profile")
    features = build_features(index, queries)
    predicted = gap_model.predict(features)["predicted_level"].to_numpy(np.float64)
    return features, predicted


def profile_population(features: pd.DataFrame, predicted: np.ndarray) -> dict[str, dict[str, Any]]:
    """Bins and shares of every drift feature and of the predictions (JSON-ready, aggregates only)."""
    categorical, numeric = drift_features()
    out: dict[str, dict[str, Any]] = {}
    for name in categorical:
        out[name] = profile_categorical(features[name])
    for name in numeric:
        out[name] = profile_numeric(features[name].to_numpy(np.float64))
    out[PREDICTION] = profile_numeric(predicted)
    return out


def reference_profile(export: Export, gap_model: Any, *, seed: int = 0,
                      max_employees: int = MAX_EMPLOYEES) -> dict[str, Any]:
    """The drift reference of a model trained on `export`: its scoring population's profile."""
    features, predicted = scoring_population(export, gap_model, max_employees=max_employees, seed=seed)
    return {"snapshot_id": export.snapshot_id, "as_of": export.exported_on.isoformat(), "rows": int(len(features)),
            "profiles": profile_population(features, predicted)}


def attach_reference(predictor: Any, export: Export, *, seed: int = 0) -> dict[str, Any]:
    """Profile `export` (the training snapshot) and keep it in `predictor.metadata["drift_reference"]`."""
    reference = reference_profile(export, predictor.gap_model, seed=seed)
    predictor.metadata[REFERENCE_KEY] = reference
    return reference


# ---------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------
_STATUS_WORDS = {"ok": ("aman", "ok"), "warning": ("peringatan", "warning"), "alert": ("waspada", "alert")}


def _label(feature: str, lang: str) -> str:
    if feature == PREDICTION:
        return "Level terprediksi (keluaran model)" if lang == "id" else "Predicted level (model output)"

    entry = LABELS.get(feature)
    if entry is None:
        return feature
    text = entry[0] if lang == "id" else entry[1]
    return text.replace("{c}", "kompetensi" if lang == "id" else "competency")


def _num(x: float, lang: str, decimals: int = 3) -> str:
    text = f"{x:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".") if lang == "id" else text


@dataclass
class DriftReport:
    """PSI per feature and of the predictions; `status` "ok" / "warning" / "alert" (module docstring)."""

    features: pd.DataFrame  # feature, kind, psi, status; highest PSI first
    prediction_psi: float
    reference: dict[str, Any]  # snapshot_id, as_of, rows
    current: dict[str, Any]
    model_version: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def psi_max(self) -> float:
        values = [self.prediction_psi, *self.features["psi"].tolist()]
        return float(np.nanmax(values)) if values else 0.0

    @property
    def status(self) -> str:
        return status_of(self.psi_max)

    @property
    def prediction_status(self) -> str:
        return status_of(self.prediction_psi)

    def metrics(self) -> dict[str, float]:
        """Flat, MLflow-ready: drift_psi_prediction, drift_psi_max, drift_status_level (0 ok, 1 warning,
        2 alert), counts of features per status, and drift_psi_<feature>."""
        out = {
            "drift_psi_prediction": float(self.prediction_psi),
            "drift_psi_max": self.psi_max,
            "drift_status_level": float(STATUSES.index(self.status)),
            "drift_features_warning": float((self.features["status"] == "warning").sum()),
            "drift_features_alert": float((self.features["status"] == "alert").sum()),
        }
        out.update({f"drift_psi_{f}": float(v) for f, v in zip(self.features["feature"], self.features["psi"],
                                                                 strict=True)})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "psi_max": self.psi_max, "prediction_psi": self.prediction_psi,
                "prediction_status": self.prediction_status, "model_version": self.model_version,
                "reference": self.reference, "current": self.current, "notes": self.notes,
                "thresholds": {"warning": PSI_WARNING, "alert": PSI_ALERT},
                "features": self.features.to_dict(orient="records")}

    def to_text(self, lang: str = "id", top: int = 10) -> str:
        """A short report for the terminal, in Indonesian ("id") or English ("en")."""
        i = 0 if lang == "id" else 1
        ref, cur = self.reference, self.current

        def snap(s: dict[str, Any]) -> str:
            sid = str(s.get("snapshot_id") or "-")[:12]
            rows = _num(float(s.get("rows", 0)), lang, 0)
            return (f"snapshot {sid} per {s.get('as_of')} ({rows} baris)" if i == 0
                    else f"snapshot {sid} as of {s.get('as_of')} ({rows} rows)")

        counts = self.features["status"].value_counts()
        lines = [
            (f"Drift populasi (PSI), model versi {self.model_version or '-'}: status {self.status.upper()} "
             f"({_STATUS_WORDS[self.status][0]})" if i == 0 else
             f"Population drift (PSI), model version {self.model_version or '-'}: status {self.status.upper()}"),
            ("Referensi (data latih): " if i == 0 else "Reference (training data): ") + snap(ref),
            ("Saat ini (store): " if i == 0 else "Current (store): ") + snap(cur),
            f"{_label(PREDICTION, lang)}: PSI {_num(self.prediction_psi, lang)} ({self.prediction_status})",
            (f"Fitur: {int(counts.get('alert', 0))} waspada, {int(counts.get('warning', 0))} peringatan, "
             f"{int(counts.get('ok', 0))} aman; PSI tertinggi:" if i == 0 else
             f"Features: {int(counts.get('alert', 0))} alert, {int(counts.get('warning', 0))} warning, "
             f"{int(counts.get('ok', 0))} ok; highest PSI:"),
        ]
        width = max((len(_label(f, lang)) for f in self.features["feature"].head(top)), default=0)
        for row in self.features.head(top).itertuples():
            lines.append(f"  {_label(row.feature, lang):<{width}}  {_num(row.psi, lang)}  {row.status}")
        lines.append(f"Ambang: < {_num(PSI_WARNING, lang, 2)} aman, {_num(PSI_WARNING, lang, 2)}–"
                     f"{_num(PSI_ALERT, lang, 2)} peringatan, ≥ {_num(PSI_ALERT, lang, 2)} waspada (latih ulang)."
                     if i == 0 else
                     f"Thresholds: < {PSI_WARNING} ok, {PSI_WARNING}–{PSI_ALERT} warning, ≥ {PSI_ALERT} alert "
                     "(retrain).")
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def compare_profiles(reference: dict[str, Any], features: pd.DataFrame, predicted: np.ndarray
                     ) -> tuple[pd.DataFrame, float]:
    """(per-feature PSI table, prediction PSI) of a population against a reference's profiles."""
    profiles = reference["profiles"]
    rows = []
    for name, prof in profiles.items():
        if name == PREDICTION or name not in features.columns:
            continue
        values = features[name] if prof["kind"] == "categorical" else features[name].to_numpy(np.float64)
        value = psi(np.asarray(prof["shares"]), shares_like(prof, values))
        rows.append({"feature": name, "kind": prof["kind"], "psi": value, "status": status_of(value)})
    table = pd.DataFrame(rows, columns=["feature", "kind", "psi", "status"])
    table = table.sort_values(["psi", "feature"], ascending=[False, True], kind="stable").reset_index(drop=True)
    pred_profile = profiles[PREDICTION]
    return table, psi(np.asarray(pred_profile["shares"]), shares_like(pred_profile, predicted))


def drift_report(export_current: Export, predictor: Any, *, reference: Export | None = None,
                 seed: int = 0) -> DriftReport:
    """PSI of every feature and of the predictions: the model's training population vs `export_current`.

    The reference is `predictor.metadata["drift_reference"]` (written at training time), or the
    profile of `reference` when given (e.g. a bundle trained before references were kept).
    """
    notes: list[str] = []
    if reference is not None:
        ref = reference_profile(reference, predictor.gap_model, seed=seed)
    else:
        ref = predictor.metadata.get(REFERENCE_KEY)
        if not ref:
            raise LookupError("this model version carries no drift reference (trained before drift was "
                              "recorded): retrain it, or pass the training snapshot as `reference`")
    features, predicted = scoring_population(export_current, predictor.gap_model, seed=seed)
    table, pred_psi = compare_profiles(ref, features, predicted)
    meta = {k: ref.get(k) for k in ("snapshot_id", "as_of", "rows")}
    current = {"snapshot_id": export_current.snapshot_id, "as_of": export_current.exported_on.isoformat(),
               "rows": int(len(features))}
    version = str(getattr(predictor, "metadata", {}).get("model_version") or "")
    return DriftReport(table, pred_psi, meta, current, version, notes)
