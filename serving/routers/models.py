"""The model being served."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends

from features.values import finite
from serving.deps import ModelDep, RuntimeDep, require_role
from serving.routers._common import AUTHED, problems
from serving.runtime import DriftStatus
from serving.schemas import (
    DataWindow,
    DriftFeature,
    DriftInfo,
    ModelInfo,
    ModelsResponse,
    ReloadRefusal,
    StoreInfo,
)

router = APIRouter(prefix="/v1", tags=["models"], dependencies=[Depends(require_role("reader"))])


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _metrics(raw: Any) -> dict[str, float | None]:
    return {str(name): finite(value) for name, value in (raw or {}).items()}


def _drift(drift: DriftStatus | None, top: int = 10) -> DriftInfo | None:
    if drift is None:
        return None
    # Highest PSI first (missing last), ties by name, so the answer is stable.
    ranked = sorted(drift.features.items(), key=lambda kv: (kv[1] is None, -(kv[1] or 0.0), kv[0]))[:top]
    return DriftInfo.model_validate({
        "status": drift.status, "psi_max": drift.psi_max, "prediction_psi": drift.prediction_psi,
        "computed_at": drift.computed_at, "features": [DriftFeature(feature=f, psi=v) for f, v in ranked],
    })


@router.get("/models", response_model=ModelsResponse, responses=problems(*AUTHED, 503))
async def list_models(state: ModelDep, runtime: RuntimeDep) -> ModelsResponse:
    """The served model version, its metrics, training data window and as-of date, and the last refused reload."""
    meta = state.metadata
    window = meta.get("data_window") or {}
    assert state.model_version is not None and state.export is not None  # guaranteed by ModelDep
    info = ModelInfo(
        model_version=state.model_version,
        as_of=_date(meta.get("as_of") or state.manifest.get("as_of")),
        data_window=DataWindow(start=_date(window.get("start")), end=_date(window.get("end"))),
        snapshot_id=meta.get("snapshot_id") or state.manifest.get("snapshot_id"),
        trained_at=str(meta.get("trained_at") or state.manifest.get("created_at") or "") or None,
        metrics=_metrics(meta.get("metrics") or state.manifest.get("metrics")),
        loaded_at=state.model_loaded_at,
        drift=_drift(runtime.drift_for(state)),
    )
    store = StoreInfo(snapshot_id=state.snapshot_id, exported_on=state.export.exported_on,
                      organisation=state.export.organisation or None, loaded_at=state.snapshot_loaded_at)
    refusal = runtime.last_refusal
    last_refusal = ReloadRefusal.model_validate(refusal, from_attributes=True) if refusal is not None else None
    return ModelsResponse(model_version=state.model_version, models=[info], store=store, last_refusal=last_refusal)
