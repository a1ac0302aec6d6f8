"""`polyforge sandbox ...`: check toolchains, run code, and check the sandbox against McEval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from polyforge.sandbox import BadRunInput, Limits, Sandbox, UnknownLanguage

app = typer.Typer(help="Isolated multilingual code execution.", no_args_is_help=True)
console = Console(soft_wrap=True)


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


@app.command()
def doctor() -> None:
    """List the languages usable on this machine, and why the others are not."""
    from polyforge.sandbox.doctor import doctor as check_all

    with console.status("running a hello world per language in the sandbox..."):
        checks = check_all()
    table = Table(title="sandbox languages")
    for column in ("language", "usable", "toolchain", "seconds", "problem"):
        table.add_column(column)
    for check in checks:
        table.add_row(check.language, "[green]yes[/]" if check.usable else "[red]no[/]", check.version,
                      f"{check.seconds:.2f}", check.problem)
    console.print(table)
    console.print(f"{sum(c.usable for c in checks)} of {len(checks)} languages usable")


@app.command("run")
def run_code(
    files: Annotated[list[Path], typer.Argument(help="Program files; the first is the main program.")],
    language: Annotated[str, typer.Option("--language", "-l", help="Language name, e.g. python, rust, c++.")],
    test: Annotated[Optional[Path], typer.Option(help="Test code to wire in (see the language table).")] = None,
    cpu_seconds: Annotated[int, typer.Option(help="CPU-seconds limit.")] = Limits.cpu_seconds,
    wall_seconds: Annotated[float, typer.Option(help="Wall-clock limit in seconds.")] = Limits.wall_seconds,
    memory_mb: Annotated[int, typer.Option(help="Memory limit in MB.")] = Limits.memory_mb,
) -> None:
    """Run code in the sandbox and print the result as one JSON object."""
    contents = {}
    for path in [*files, *([test] if test else [])]:
        if not path.is_file():
            _fail(f"{path}: no such file")
    try:
        contents = {path.name: path.read_text(encoding="utf-8") for path in files}
        limits = Limits(cpu_seconds=cpu_seconds, wall_seconds=wall_seconds, memory_mb=memory_mb)
        execution = Sandbox(limits).run(language, contents, test=test.read_text(encoding="utf-8") if test else None)
    except (UnknownLanguage, BadRunInput, UnicodeDecodeError) as exc:
        _fail(str(exc))
    print(json.dumps(execution.to_dict(), ensure_ascii=False))


@app.command("missing-packages")
def missing_packages(
    manager: Annotated[str, typer.Argument(help="apt or npm")],
) -> None:
    """Print the packages that would bring this machine's missing toolchains (for the Makefile)."""
    from polyforge.sandbox.doctor import missing_packages as missing

    if manager not in ("apt", "npm"):
        _fail(f"unknown package manager {manager!r}; choose apt or npm")
    print(" ".join(missing(manager)))
