"""`kompetensi`: one command line gathered from the offline commands (`training.cli`) and the serving
commands (`serving.cli`), so that no lower layer imports a higher one (INTERFACES.md "CLI")."""

from __future__ import annotations

import typer

from features.console import run
from serving import cli as serving_cli
from training import cli as training_cli

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="asn-kompetensi: competency gaps and training recommendations for ASN (Kota Pontianak).",
)
for part in (training_cli.app, serving_cli.app):
    app.registered_commands.extend(part.registered_commands)
    app.registered_groups.extend(part.registered_groups)


def main() -> None:  # pragma: no cover - console entry point
    run(app)
