"""The serving side of the `kompetensi` command line: `serve`, `keys create|list|revoke|rotate`, `audit
prune` and `plan`. The options live here; what each command does is in `serving.commands`, imported when a
command runs (FastAPI, pandas and LightGBM take seconds to load, `kompetensi --help` should not wait for
them)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from features.constants import MAX_HORIZON_MONTHS

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Serve the API, manage API keys, plan a training budget.")
keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys (stored hashed).")
app.add_typer(keys_app, name="keys")
audit_app = typer.Typer(no_args_is_help=True, help="Look after the audit trail in the store.")
app.add_typer(audit_app, name="audit")


def _commands() -> ModuleType:
    from serving import commands  # heavy: loaded when a command runs, not for --help

    return commands


class Role(StrEnum):
    reader = "reader"
    planner = "planner"
    admin = "admin"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Start the API and the planner UI."""
    _commands().serve(host=host, port=port)


@app.command()
def plan(
    budget_idr: Annotated[int, typer.Option("--budget-idr", min=0, help="the budget in Rupiah")],
    unit: Annotated[list[str] | None, typer.Option(
        "--unit", help="unit_id, with its sub-units (a kecamatan includes its kelurahan); repeat or "
                       "comma-separate; default: every unit")] = None,
    max_trainings_per_employee: Annotated[int, typer.Option(min=0, max=20)] = 2,
    max_jp_per_employee: Annotated[int | None, typer.Option(min=0, help="default: no limit")] = None,
    jp_priority: Annotated[bool, typer.Option(
        "--jp-priority", help="first bring as many employees as the budget allows to 20 JP this year")] = False,
    horizon_months: Annotated[int, typer.Option(min=1, max=MAX_HORIZON_MONTHS)] = 12,
    curve_budget: Annotated[list[int] | None, typer.Option(
        "--curve-budget", min=0, help="also solve at this budget (repeat): the budget curve")] = None,
    time_limit: Annotated[float, typer.Option(min=0.1, max=300, help="seconds per solve")] = 30.0,
    out: Annotated[Path | None, typer.Option(help="write the allocation to FILE (.csv or .parquet)")] = None,
) -> None:
    """Budget-constrained training plan with the champion model and the store snapshot (as POST /v1/plans)."""
    _commands().plan(budget_idr=budget_idr, unit=unit, max_trainings_per_employee=max_trainings_per_employee,
                     max_jp_per_employee=max_jp_per_employee, jp_priority=jp_priority,
                     horizon_months=horizon_months, curve_budget=curve_budget, time_limit=time_limit, out=out)


ExpiresInDays = Annotated[int | None, typer.Option(
    "--expires-in-days", min=1, max=36_500, help="the key is refused N days from now")]
Expires = Annotated[str | None, typer.Option(
    "--expires", metavar="YYYY-MM-DD", help="the key is refused from this date on (00:00 UTC)")]
KeyId = Annotated[str, typer.Argument(metavar="KEY_ID", help="the key's id, as `keys list` shows it")]


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="reader, planner or admin")],
    name: Annotated[str, typer.Option(help="who the key is for (shown in the audit log)")] = "",
    expires_in_days: ExpiresInDays = None,
    expires: Expires = None,
) -> None:
    """Create an API key; it is printed once and only its hash is stored. No expiry unless asked."""
    _commands().keys_create(role=role.value, name=name, expires_in_days=expires_in_days, expires=expires)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: id, role, status (active, expired, revoked), dates, last use, name; never a secret."""
    _commands().keys_list()


@keys_app.command("revoke")
def keys_revoke(key_id: KeyId) -> None:
    """Revoke a key: a running server refuses it from its next request on."""
    _commands().keys_revoke(key_id)


@keys_app.command("rotate")
def keys_rotate(key_id: KeyId, expires_in_days: ExpiresInDays = None, expires: Expires = None) -> None:
    """Give a key a new secret (printed once; same id, role and name); the old secret stops working."""
    _commands().keys_rotate(key_id, expires_in_days=expires_in_days, expires=expires)


@audit_app.command("prune")
def audit_prune(
    older_than: Annotated[int, typer.Option(
        "--older-than", min=1, metavar="DAYS", help="delete the records older than DAYS days")],
) -> None:
    """Delete old audit records from the store (retention); the prune itself is audited."""
    _commands().audit_prune(older_than_days=older_than)
