"""Shared by the command line modules: one console, one way to fail on a user error, database arguments."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from polyforge.storage import DatabaseNotFound, existing_database_url

console = Console(soft_wrap=True)  # never break a printed path across lines
if not console.is_terminal:
    console.width = max(console.width, 120)  # logs and pipes: keep the summary table's columns whole

# str, not Path: a Path would fold the '//' of a database URL
DatabaseSource = Annotated[str, typer.Argument(help="A campaign output folder, a .db file, or a database URL.")]


def fail(message: str) -> None:
    """Print the message as an error and exit with status 2 (a user error, not a crash)."""
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def database_url_of(source: str) -> str:
    """The URL of the existing database SOURCE names; a missing one ends the command with its message."""
    try:
        return existing_database_url(source)
    except DatabaseNotFound as exc:
        fail(str(exc))
