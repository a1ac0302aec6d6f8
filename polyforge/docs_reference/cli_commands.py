"""The command-line reference page: every command of the typer app, its arguments and options, rendered by typer's
own Markdown generator (what `typer ... utils docs` writes)."""

from __future__ import annotations

import typer
import typer.main
from typer.cli import get_docs_for_click

from polyforge.cli import app


def render() -> str:
    command = typer.main.get_command(app)
    context = typer.Context(command, info_name="polyforge")
    return get_docs_for_click(obj=command, ctx=context, name="polyforge", title="Command line").strip() + "\n"
