"""Shared by the command modules: one console, one way to fail on a user error, database arguments,
output paths checked before any work, and the progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from polyforge.agents.judge import JudgeBudgetError
from polyforge.checklists import ChecklistError
from polyforge.checklists.calibration import CalibrationError
from polyforge.config import ConfigError
from polyforge.export import ExportError
from polyforge.generation.cluster import RayExecutorError
from polyforge.ingest import IngestError
from polyforge.llm.models import ModelUnavailable
from polyforge.llm.vllm_backend import VLLMBackendError
from polyforge.prompts import PromptError
from polyforge.sandbox.doctor import SandboxMissing
from polyforge.storage import DatabaseNotFound, UnusableDatabase, database_url, readable_database_url

console = Console(soft_wrap=True)  # never break a printed path across lines
if not console.is_terminal:
    console.width = max(console.width, 160)  # logs and pipes: keep the summary table's columns whole

# str, not Path: a Path would fold the '//' of a database URL
DatabaseSource = Annotated[str, typer.Argument(help="A campaign output folder, a .db file, or a database URL.")]

# Errors a user can fix: shown as one clear message and exit code 2, never a traceback.
USER_ERRORS = (ConfigError, ChecklistError, PromptError, IngestError, DatabaseNotFound, UnusableDatabase,
               ModelUnavailable, CalibrationError, ExportError, SandboxMissing, JudgeBudgetError,
               VLLMBackendError, RayExecutorError)


def fail(message: str) -> NoReturn:
    """Print the message as an error and exit with status 2 (a user error, not a crash)."""
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def database_url_of(source: str) -> str:
    """The URL of the existing Polyforge database SOURCE names; a missing one, a file that is not a database, or
    a database without Polyforge's tables ends the command with its message."""
    try:
        return readable_database_url(source)
    except (DatabaseNotFound, UnusableDatabase) as exc:
        fail(str(exc))


def output_path(path: Path, folder: bool) -> Path:
    """PATH, checked before any work for a command that writes there: no part above it may be a file, and it
    must not already be the other kind (a folder where a file goes, a file where a folder goes)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            fail(f"cannot write {path}: {parent} is a file, not a folder")
    if folder and path.exists() and not path.is_dir():
        fail(f"cannot write into {path}: it is a file, not a folder")
    if not folder and path.is_dir():
        fail(f"cannot write {path}: it is a folder; name a file")
    return path


def input_file(path: Path, what: str = "") -> Path:
    """PATH, which must be an existing regular file; WHAT names the option it came from in the message."""
    if not path.is_file():
        fail(f"{what}{path}: " + ("a folder, not a file" if path.is_dir() else "no such file"))
    return path


def database_target(target: str | Path) -> str:
    """The URL of the database TARGET names for a command that creates or writes one; a SQLite file is checked
    as an output path first."""
    url = database_url(target)
    if url.startswith("sqlite:///"):
        output_path(Path(url.removeprefix("sqlite:///")), folder=False)
    return url


def progress() -> Progress:
    """A progress display: spinner, description, bar, done/total, elapsed time."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)
