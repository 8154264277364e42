"""Explanations in words: business labels, value formats and sentences in Indonesian and English.

`render` turns one row of `GapModel.explain(...).contributions` plus the matching row of
`features.pit.build_features` into `[{feature, value, contribution, text}]` (engine.results.Contribution),
sorted by |contribution|; `evidence` lists the assessments a prediction used. Indonesian numbers use a
decimal comma ("2,4"), English a decimal point. Every model feature has a label here (a test checks it),
so no raw column name ever reaches a person.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from engine.gap_model import SCALE_BOUND
from features.constants import ASSESSMENT_VALID_YEARS, EDUCATIONS, PNS_GRADES
from features.export import Export
from features.pit import NO_BAND_DISTANCE, PitIndex, assessment_records

Lang = str  # "id" (default) or "en"
NEGLIGIBLE = 0.005  # |contribution| below this reads as "almost no effect"
OTHERS = "faktor_lain"  # the sum of the contributions cut by `top`

METHODS = {
    "assessment_center": ("assessment center", "assessment centre"),
    "uji_kompetensi": ("uji kompetensi", "competency test"),
    "cat": ("CAT", "CAT (computer-assisted test)"),
    "penilaian_360": ("penilaian 360°", "360° review"),
    "belum_dinilai": ("belum pernah dinilai", "never assessed"),
    "lainnya": ("metode lain", "another method"),
}
KINDS = {"manajerial": ("manajerial", "managerial"), "sosial_kultural": ("sosial kultural", "socio-cultural"),
         "teknis": ("teknis", "technical")}
SKP = {5: ("Sangat Baik", "Very good"), 4: ("Baik", "Good"), 3: ("Butuh Perbaikan", "Needs improvement"),
       2: ("Kurang", "Poor"), 1: ("Sangat Kurang", "Very poor")}
FALLBACKS = {
    "other_competencies": ("perkiraan dari kompetensi lain", "estimated from other competencies"),
    "position_type": ("perkiraan dari rekan sejenis jabatan", "estimated from colleagues in similar positions"),
    "competency": ("perkiraan dari rata-rata pegawai", "estimated from the average employee"),
    "scale_middle": ("tengah skala, tanpa data", "middle of the scale, no data"),
}


def _i(lang: Lang) -> int:
    return 1 if lang == "en" else 0


def number(x: float, lang: Lang, decimals: int = 1) -> str:
    """A number with `decimals` decimals, decimal comma in Indonesian."""
    text = f"{x:.{decimals}f}"
    return text.replace(".", ",") if lang != "en" else text


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x)


def _level(x: float, lang: Lang) -> str:
    return number(x, lang, 2 if round(x, 1) != round(x, 2) else 1)


def _count(x: float, lang: Lang) -> str:
    return str(int(round(x)))


def _months(x: float, lang: Lang) -> str:
    m = int(round(x))
    return f"{m} bulan" if lang != "en" else f"{m} month{'s' if m != 1 else ''}"


def _yes_no(x: float, lang: Lang) -> str:
    return ("ya", "yes")[_i(lang)] if x > 0.5 else ("tidak", "no")[_i(lang)]


def _enum(table: dict[str, tuple[str, str]]) -> Callable[[Any, Lang], str]:
    return lambda x, lang: table.get(str(x), (str(x).replace("_", " "),) * 2)[_i(lang)]


def _plain(x: Any, lang: Lang) -> str:
    return str(x).replace("_", " ")


def _current_level(x: float, lang: Lang, row: Mapping[str, Any]) -> str:
    source = str(row.get("current_level_source", "assessed"))
    if source != "assessed":
        return f"{_level(x, lang)} ({FALLBACKS.get(source, FALLBACKS['competency'])[_i(lang)]})"
    method = METHODS.get(str(row.get("current_method")), METHODS["lainnya"])[_i(lang)]
    age: Any = row.get("level_age_months")
    ago = "" if _missing(age) else (", " + (f"{int(round(age))} bulan lalu" if lang != "en"
                                            else f"{int(round(age))} months ago"))
    return f"{_level(x, lang)} ({method}{ago})"


def _trend(x: float, lang: Lang) -> str:
    if _missing(x):
        return ("belum ada (kurang dari dua penilaian)", "none yet (fewer than two assessments)")[_i(lang)]
    sign = "+" if x >= 0 else "−"
    unit = ("level per tahun", "levels per year")[_i(lang)]
    return f"{sign}{number(abs(x), lang, 2)} {unit}"


def _gap(x: float, lang: Lang) -> str:
    if abs(x) < 0.05:
        return ("tepat pada standar", "at the standard")[_i(lang)]
    if x > 0:
        return f"{_level(x, lang)} " + ("level di bawah standar", "levels below the standard")[_i(lang)]
    return f"{_level(-x, lang)} " + ("level di atas standar", "levels above the standard")[_i(lang)]


def _percentile(x: float, lang: Lang) -> str:
    p = int(round(100 * x))
    return f"persentil {p} di unitnya" if lang != "en" else f"percentile {p} in the unit"


def _rating(x: float, lang: Lang) -> str:
    return SKP.get(int(round(x)), ("?", "?"))[_i(lang)]


def _out_of_five(x: float, lang: Lang) -> str:
    return f"{number(x, lang)} " + ("dari 5", "out of 5")[_i(lang)]


def _years(x: float, lang: Lang) -> str:
    return f"{number(x, lang)} " + ("tahun", "years")[_i(lang)]


def _grade(x: float, lang: Lang) -> str:
    rank = int(round(x))
    name = PNS_GRADES[rank - 1] if 1 <= rank <= len(PNS_GRADES) else str(rank)
    return f"setara {name}" if lang != "en" else f"equivalent to {name}"


def _education(x: float, lang: Lang) -> str:
    rank = int(round(x))
    return EDUCATIONS[rank - 1].upper() if 1 <= rank <= len(EDUCATIONS) else "?"


def _jp(x: float, lang: Lang) -> str:
    return f"{int(round(x))} JP"


def _band_distance(x: float, lang: Lang) -> str:
    if x >= NO_BAND_DISTANCE - 1e-9:
        return ("tidak ada pelatihan rencana untuk kompetensi ini", "no planned training for this competency")[
            _i(lang)]
    if x <= 1e-9:
        return ("di dalam rentang pelatihan", "within a course's band")[_i(lang)]
    return f"{_level(x, lang)} " + ("level", "levels")[_i(lang)]


def _scale(x: float, lang: Lang) -> str:
    return ("prediksi dijaga dalam skala 1–5", "prediction kept within the 1–5 scale")[_i(lang)]


def _others(x: float, lang: Lang) -> str:
    return ("gabungan faktor-faktor kecil", "several small factors together")[_i(lang)]


Formatter = Callable[..., str]
# feature → (Indonesian label, English label, value formatter); {c} is the competency's name.
LABELS: dict[str, tuple[str, str, Formatter]] = {
    "competency_id": ("Kompetensi", "Competency", _plain),
    "competency_kind": ("Jenis kompetensi", "Competency kind", _enum(KINDS)),
    "current_method": ("Metode penilaian {c} terakhir", "Method of the latest {c} assessment", _enum(METHODS)),
    "target_method": ("Pengukuran yang diprediksi", "Measurement predicted", _enum(METHODS)),
    "employment": ("Status kepegawaian", "Employment", lambda x, lang: str(x).upper()),
    "position_type": ("Jenis jabatan", "Position type", _plain),
    "job_family": ("Rumpun jabatan", "Job family", _plain),
    "unit_kind": ("Jenis unit kerja", "Kind of unit", _plain),
    "current_level": ("Level {c} terakhir", "Latest {c} level", _current_level),
    "level_age_months": ("Umur penilaian {c} terakhir", "Age of the latest {c} assessment", _months),
    "n_assessments": ("Jumlah penilaian {c}", "Number of {c} assessments", _count),
    "level_trend": ("Tren level {c}", "Trend of the {c} level", _trend),
    "previous_level": ("Level {c} sebelumnya", "Previous {c} level", _level),
    "mean_level_history": ("Rata-rata level {c} selama ini", "Mean {c} level so far", _level),
    "never_assessed": ("Belum pernah dinilai dalam {c}", "Never assessed in {c}", _yes_no),
    "thin_evidence": (f"Bukti tipis (belum dinilai atau penilaian lebih dari {ASSESSMENT_VALID_YEARS} tahun)",
                      f"Thin evidence (never assessed, or assessed more than {ASSESSMENT_VALID_YEARS} years ago)",
                      _yes_no),
    "related_mean_level": ("Rata-rata level kompetensi sejenis lainnya", "Mean level in related competencies",
                           _level),
    "others_mean_level": ("Rata-rata level semua kompetensi lain", "Mean level in all other competencies",
                          _level),
    "required_level": ("Level {c} yang dipersyaratkan jabatan", "{c} level required by the position", _level),
    "current_gap": ("Kesenjangan {c} saat ini", "Current {c} gap", _gap),
    "skp_percentile": ("Posisi SKP terakhir", "Latest SKP standing", _percentile),
    "skp_last_rating": ("Predikat SKP terakhir", "Latest SKP rating", _rating),
    "skp_mean_3y": ("Rata-rata predikat SKP tiga tahun terakhir", "Mean SKP rating over the last three years",
                    _out_of_five),
    "tenure_years": ("Masa kerja", "Years of service", _years),
    "grade_rank": ("Golongan", "Grade", _grade),
    "education_rank": ("Pendidikan", "Education", _education),
    "trainings_12m": ("Pelatihan selesai dalam 12 bulan terakhir", "Trainings completed in the last 12 months",
                      _count),
    "trainings_36m": ("Pelatihan selesai dalam 36 bulan terakhir", "Trainings completed in the last 36 months",
                      _count),
    "abandoned_12m": ("Pelatihan tidak selesai dalam 12 bulan terakhir",
                      "Trainings not completed in the last 12 months", _count),
    "abandoned_36m": ("Pelatihan tidak selesai dalam 36 bulan terakhir",
                      "Trainings not completed in the last 36 months", _count),
    "jp_12m": ("JP pengembangan kompetensi 12 bulan terakhir", "Development hours in the last 12 months", _jp),
    "jp_compliant": ("Hak 20 JP tahun lalu terpenuhi", "20 JP right met last year", _yes_no),
    "targeted_trainings_36m": ("Pelatihan {c} selesai dalam 36 bulan terakhir",
                               "{c} trainings completed in the last 36 months", _count),
    "unit_mean_level": ("Rata-rata level {c} rekan satu unit", "Colleagues' mean {c} level in the unit", _level),
    "horizon_months": ("Horizon prediksi", "Prediction horizon", _months),
    "level_estimate": ("Perkiraan level {c} saat ini (semua asesmen)",
                       "Current {c} level estimated from all assessments", _level),
    "level_estimate_sd": ("Ketidakpastian perkiraan level {c} (simpangan baku)",
                          "Uncertainty of the estimated {c} level (standard deviation)", _level),
    "plan_n_targeting": ("Pelatihan rencana untuk {c}", "Planned trainings for {c}", _count),
    "plan_jp_targeting": ("JP rencana untuk {c}", "Planned hours for {c}", _jp),
    "plan_n_in_band": ("Pelatihan rencana yang sesuai level {c} saat ini",
                       "Planned trainings matching the current {c} level", _count),
    "plan_n_below_band": ("Pelatihan rencana yang terlalu tinggi untuk level {c} saat ini",
                          "Planned trainings above the current {c} level", _count),
    "plan_n_above_band": ("Pelatihan rencana yang terlalu rendah untuk level {c} saat ini",
                          "Planned trainings below the current {c} level", _count),
    "plan_band_distance": ("Jarak level {c} ke rentang pelatihan rencana terdekat",
                           "Distance from the {c} level to the nearest planned course", _band_distance),
    "plan_n_classroom": ("Pelatihan rencana {c} klasikal/blended/workshop",
                         "Planned classroom/blended/workshop trainings for {c}", _count),
    "plan_n_online": ("Pelatihan rencana {c} e-learning/seminar", "Planned e-learning/seminar trainings for {c}",
                      _count),
    "plan_n_workplace": ("Pelatihan rencana {c} coaching/mentoring/magang",
                         "Planned coaching/mentoring/internship for {c}", _count),
    "plan_n_other": ("Pelatihan rencana untuk kompetensi lain", "Planned trainings for other competencies",
                     _count),
    "plan_jp_total": ("Total JP rencana", "Total planned hours", _jp),
    SCALE_BOUND: ("Batas skala 1–5", "Scale bound 1–5", _scale),
    OTHERS: ("Faktor lain", "Other factors", _others),
}
# Value columns that are not numbers (the formatter gets the raw value).
_TEXT_VALUES = {"competency_id", "competency_kind", "current_method", "target_method", "employment",
                "position_type", "job_family", "unit_kind"}


def label(feature: str, row: Mapping[str, Any], lang: Lang = "id") -> str:
    """The business label of a feature, with the competency's name filled in."""
    indonesian, english, _ = LABELS[feature]
    return (english if lang == "en" else indonesian).format(c=str(row.get("competency_name", "")))


def format_value(feature: str, row: Mapping[str, Any], lang: Lang = "id") -> str:
    """The feature's value for a person: "2,4 (assessment center, 14 bulan lalu)"."""
    formatter = LABELS[feature][2]
    if feature == "competency_id":
        return str(row.get("competency_name", row.get(feature)))
    if feature in (SCALE_BOUND, OTHERS):
        return formatter(0.0, lang)
    value: Any = row.get(feature)
    if feature == "current_level":
        return _current_level(float(value), lang, row)
    if feature in _TEXT_VALUES:
        return formatter(value, lang)
    if _missing(value):
        if feature == "level_trend":
            return _trend(float("nan"), lang)
        return ("tidak ada data", "no data")[_i(lang)]
    return formatter(float(value), lang)


def effect(contribution: float, lang: Lang = "id") -> str:
    """The sentence part for a contribution: "menaikkan prediksi 0,12 level"."""
    if abs(contribution) < NEGLIGIBLE:
        return ("hampir tidak berpengaruh pada prediksi", "has almost no effect on the prediction")[_i(lang)]
    size = number(abs(contribution), lang, 2)
    if lang == "en":
        return f"{'raises' if contribution > 0 else 'lowers'} the prediction by {size} levels"
    return f"{'menaikkan' if contribution > 0 else 'menurunkan'} prediksi {size} level"


def render(explanation_row: pd.Series, feature_values_row: Mapping[str, Any], lang: Lang = "id",
           top: int | None = None) -> list[dict[str, Any]]:
    """`[{feature, value, contribution, text}]` sorted by |contribution|, largest first.

    With `top`, the rest are summed into one "Faktor lain" item, so the contributions still add up to
    predicted_level − base_value exactly.
    """
    names = [str(f) for f in explanation_row.index]
    values = explanation_row.to_numpy(dtype=float)
    if SCALE_BOUND in names and values[names.index(SCALE_BOUND)] == 0.0:
        drop = names.index(SCALE_BOUND)  # no clipping happened: nothing to say
        names, values = names[:drop] + names[drop + 1:], np.delete(values, drop)
    order = np.abs(values).argsort(kind="stable")[::-1]
    names, values = [names[i] for i in order], values[order]
    if top is not None and len(names) > top:
        names, values = names[:top] + [OTHERS], np.r_[values[:top], values[top:].sum()]
    items = []
    for feature, value in zip(names, values.tolist(), strict=True):
        name = label(feature, feature_values_row, lang)
        shown = format_value(feature, feature_values_row, lang)
        items.append({"feature": name, "value": shown, "contribution": value,
                      "text": f"{name}: {shown} — {effect(value, lang)}."})
    return items


def evidence(source: Export | PitIndex, nip: str, competency_id: str, as_of: date,
             lang: Lang = "id") -> list[dict[str, Any]]:
    """The assessments a prediction used, newest first: `{kind, text, date, detail: {method, level}}`
    (engine.results.Evidence)."""
    index = source if isinstance(source, PitIndex) else PitIndex.build(source)
    items = []
    for day, method_id, level in assessment_records(index, nip, competency_id, as_of):
        method = METHODS.get(method_id, METHODS["lainnya"])[_i(lang)]
        when = day.strftime("%d-%m-%Y") if lang != "en" else day.isoformat()
        text = (f"Penilaian {when} ({method}): level {number(level, lang, 2)}" if lang != "en"
                else f"Assessment of {when} ({method}): level {number(level, lang, 2)}")
        items.append({"kind": "assessment", "text": text, "date": day,
                      "detail": {"method": method_id, "level": level}})
    if not items:
        items.append({"kind": "thin_evidence", "date": None, "detail": {},
                      "text": ("Belum pernah dinilai dalam kompetensi ini: prediksi berdasar perkiraan.",
                               "Never assessed in this competency: the prediction rests on an estimate.")[
                                   _i(lang)]})
    elif (pd.Timestamp(as_of) - pd.Timestamp(items[0]["date"])).days > ASSESSMENT_VALID_YEARS * 365.25:
        items.append({"kind": "thin_evidence", "date": None, "detail": {},
                      "text": (f"Penilaian terakhir lebih dari {ASSESSMENT_VALID_YEARS} tahun lalu (kedaluwarsa).",
                               f"The latest assessment is more than {ASSESSMENT_VALID_YEARS} years old (stale).")[
                                   _i(lang)]})
    return items


def _signed(x: float, lang: Lang) -> str:
    return ("+" if x >= 0 else "−") + number(abs(x), lang, 2)


def training_evidence(participants: int, effect: float, non_participants: int, change_non: float,
                      change_own: float, competency: str, lang: Lang = "id") -> str:
    """The evidence of a recommendation in one sentence: comparable past participants against comparable
    non-participants over the same period, both counted (`engine.evidence`), e.g. "12 peserta sebelumnya
    dengan level Komunikasi serupa naik 0,31 level lebih banyak daripada 40 non-peserta serupa pada periode
    yang sama (+0,52 dibanding +0,21)."."""
    size = number(abs(effect), lang, 2)
    both = f"({_signed(change_own, lang)} {'against' if lang == 'en' else 'dibanding'} {_signed(change_non, lang)})"
    if lang == "en":
        how = ("changed as much as" if abs(effect) < NEGLIGIBLE else
               f"rose {size} levels {'more' if effect > 0 else 'less'} than")
        return (f"{participants} earlier participants at a similar {competency} level {how} {non_participants} "
                f"comparable non-participants over the same period {both}.")
    how = ("berubah sama dengan" if abs(effect) < NEGLIGIBLE else
           f"naik {size} level lebih {'banyak' if effect > 0 else 'sedikit'} daripada")
    return (f"{participants} peserta sebelumnya dengan level {competency} serupa {how} {non_participants} "
            f"non-peserta serupa pada periode yang sama {both}.")
