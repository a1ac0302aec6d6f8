"""`polyforge sandbox ...`: check toolchains, run code, and check the sandbox against McEval."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from polyforge.cli.common import console, input_file, progress
from polyforge.cli.common import fail as _fail
from polyforge.sandbox import BadRunInput, Limits, Sandbox, UnknownLanguage
from polyforge.sandbox.languages import UNAVAILABLE

app = typer.Typer(help="Isolated multilingual code execution.", no_args_is_help=True)


@app.command()
def doctor() -> None:
    """List the languages usable on this machine, and why the others are not; say how runs are contained."""
    from polyforge.sandbox.doctor import doctor as check_all
    from polyforge.sandbox.doctor import isolation_report

    with console.status("running a hello world per language in the sandbox..."):
        checks = check_all()
    table = Table(title="sandbox languages")
    for column in ("language", "usable", "toolchain", "seconds", "problem"):
        table.add_column(column)
    for check in checks:
        # Versions and problems are tools' own words (`dotnet --list-sdks` prints [folders]): not markup.
        table.add_row(check.language, "[green]yes[/]" if check.usable else "[red]no[/]", escape(check.version),
                      f"{check.seconds:.2f}", escape(check.problem))
    for name, reason in UNAVAILABLE.items():
        table.add_row(name, "[red]no[/]", "", "", f"not available: {reason}")
    console.print(table)
    console.print(f"{sum(c.usable for c in checks)} of {len(checks)} languages usable; "
                  f"{len(UNAVAILABLE)} more have no usable toolchain package")
    containment = Table(title="sandbox containment")
    containment.add_column("layer")
    containment.add_column("in force")
    for layer, state in isolation_report():
        containment.add_row(layer, state)
    console.print(containment)


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
    for path in [*files, *([test] if test else [])]:
        input_file(path)
    try:
        contents = {path.name: path.read_text(encoding="utf-8") for path in files}
        limits = Limits(cpu_seconds=cpu_seconds, wall_seconds=wall_seconds, memory_mb=memory_mb)
        execution = Sandbox(limits).run(language, contents, test=test.read_text(encoding="utf-8") if test else None)
    except (UnknownLanguage, BadRunInput, UnicodeDecodeError) as exc:
        _fail(str(exc))
    print(json.dumps(execution.to_dict(), ensure_ascii=False))


@app.command("missing-packages")
def missing_packages(
    manager: Annotated[str, typer.Argument(help="apt, npm or pip")],
) -> None:
    """Print the packages that would bring this machine's missing toolchains (for the Makefile)."""
    from polyforge.sandbox.doctor import missing_packages as missing

    if manager not in ("apt", "npm", "pip"):
        _fail(f"unknown package manager {manager!r}; choose apt, npm or pip")
    print(" ".join(missing(manager)))


@app.command()
def selftest(
    mceval_dir: Annotated[Optional[Path], typer.Argument(
        help="A McEval data folder (one <Language>.jsonl per language); default: the bundled copy.")] = None,
    language: Annotated[Optional[list[str]], typer.Option(help="Only these languages (repeat the option).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N tasks per language.")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Runs in parallel (default: one per core).")] = None,
    broken: Annotated[bool, typer.Option(help="Also check that deliberately broken solutions fail.")] = True,
    min_pass_rate: Annotated[float, typer.Option(help="Exit with code 1 below this reference pass rate.")] = 0.95,
) -> None:
    """Run McEval's reference solutions with their tests; print the pass rate per language."""
    from polyforge.sandbox.mceval import McEvalError, bundled_mceval, failures, load_tasks, run_tasks

    mceval_dir = mceval_dir or bundled_mceval()
    try:
        tasks = load_tasks(mceval_dir, language, limit)
    except McEvalError as exc:
        _fail(str(exc))
    with progress() as display:
        bar = display.add_task("McEval tasks", total=len(tasks))
        reports = run_tasks(Sandbox(), tasks, broken, workers or os.cpu_count() or 1, on_done=lambda _: display.advance(bar))
    table = Table(title=f"McEval through the sandbox ({mceval_dir})",
                  caption="pass rate: among the tasks without a known McEval defect (listed below the table)")
    for column in ("language", "tasks", "reference passed", "McEval defects", "pass rate", "broken failed",
                   "seconds"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for report in reports.values():
        broken_cell = f"{report.broken_failed}/{report.broken_total}" if broken else "-"
        table.add_row(report.language, str(report.total), str(report.passed), str(report.defects),
                      f"{report.pass_rate:.1%}", broken_cell, f"{report.seconds:.1f}")
    total = sum(r.total for r in reports.values())
    passed = sum(r.passed for r in reports.values())
    defects = sum(r.defects for r in reports.values())
    pass_rate = sum(r.sound_passed for r in reports.values()) / (total - defects) if total > defects else 0.0
    table.add_row("all", str(total), str(passed), str(defects), f"{pass_rate:.1%}",
                  f"{sum(r.broken_failed for r in reports.values())}/{sum(r.broken_total for r in reports.values())}"
                  if broken else "-", f"{sum(r.seconds for r in reports.values()):.1f}", end_section=True)
    console.print(table)
    for task_id, what, why in failures(reports):
        console.print(f"{task_id}: {what}: {why}")
    below = [f"{r.language} {r.pass_rate:.1%}" for r in reports.values() if r.pass_rate < min_pass_rate]
    if below:
        console.print(f"[red]reference pass rate below {min_pass_rate:.0%}: {', '.join(below)}[/]")
        raise typer.Exit(1)
