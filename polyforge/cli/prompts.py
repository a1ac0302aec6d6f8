"""`polyforge prompts ...`: the templates the agents render, previewed with sample values, and their
versions compared by what their pairs became."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from polyforge.checklists import load_checklist
from polyforge.cli.common import DatabaseSource, console, database_url_of, fail, input_file
from polyforge.cli.cost_views import money
from polyforge.generation.costs import template_costs
from polyforge.prompts import PROMPT_DIR, PromptError, PromptLibrary, load_taxonomy
from polyforge.storage import session_scope
from polyforge.storage.report import template_outcomes
from polyforge.terms import PairStatus

app = typer.Typer(help="Prompt templates: list them, preview one, compare versions by outcome.", no_args_is_help=True)

Folder = Annotated[Optional[Path], typer.Option(
    help="A folder of .j2 templates overriding the bundled ones, as the campaign's prompts.folder.")]

SAMPLE_CODE = '''def moving_average(values, window):
    """The mean of each run of `window` consecutive values."""
    if window <= 0:
        raise ValueError("window must be positive")
    return [sum(values[i:i + window]) / window for i in range(len(values) - window + 1)]
'''
SAMPLE_INSTRUCTION = ("Write a function `moving_average(values, window)` that returns the mean of every run of "
                      "`window` consecutive numbers in `values`; raise ValueError when `window` is not positive. "
                      "Example: moving_average([1, 2, 3, 4], 2) returns [1.5, 2.5, 3.5].")


def sample_variables(language: str, code: str) -> dict:
    """A value for every variable the bundled templates use, for previews."""
    answer = f"A sliding window over the list.\n```{language.lower()}\n{code}```"
    return {
        "language": language, "code": code, "path": "src/stats.py", "instruction": SAMPLE_INSTRUCTION,
        "answer": answer, "examples": ["Reverse the words of a sentence, keeping the punctuation in place."],
        "target": ("algorithms", "easy"), "explanation": "It averages each window of consecutive values.",
        "original": SAMPLE_INSTRUCTION, "taxonomy": load_taxonomy(), "checklist": load_checklist("default"),
        "rationales": False, "execution": "passed", "proposer_language": "Rust", "source_language": "Rust",
        "critiques": [("Rust", "Say what an empty list returns."), ("Go", "Give the type of the result.")],
        "interface": ["def moving_average(values, window):"],
    }


def _library(folder: Path | None) -> PromptLibrary:
    try:
        return PromptLibrary(folder)
    except PromptError as exc:
        fail(str(exc))


def _snippet_code(path: Path) -> str:
    try:
        return input_file(path, "--snippet ").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--snippet {path}: cannot be read as UTF-8 text ({exc})")


@app.command("list")
def list_templates(folder: Folder = None) -> None:
    """Every template, the file that wins (the folder's or the bundled one), its hash and its variables."""
    library = _library(folder)
    table = Table(title=f"prompt templates ({' over '.join(str(f) for f in library.folders)})")
    for column in ("template", "from", "hash", "variables"):
        table.add_column(column)
    for name in library.names():
        origin = "bundled" if library.path(name).parent == PROMPT_DIR else "folder"
        table.add_row(name, origin, library.template_hash(name), ", ".join(sorted(library.variables(name))))
    console.print(table)


@app.command()
def preview(
    name: Annotated[str, typer.Argument(help="Template name, without .j2 (see `polyforge prompts list`).")],
    folder: Folder = None,
    language: Annotated[str, typer.Option(help="The agent's language.")] = "Python",
    snippet: Annotated[Optional[Path], typer.Option(help="A source file to use as the snippet's code.")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="NAME=VALUE for a text variable (repeat).")] = [],
) -> None:
    """Render a template with sample values (or yours) and print the messages the model would get."""
    library = _library(folder)
    variables = sample_variables(language, _snippet_code(snippet) if snippet else SAMPLE_CODE)
    for entry in set_:
        key, sep, value = entry.partition("=")
        if not sep or not key:
            fail(f"--set {entry!r}: expected NAME=VALUE, e.g. --set instruction='Sort a list.'")
        variables[key] = value
    try:
        prompt = library.render(name, **variables)
    except PromptError as exc:
        fail(str(exc))
    console.print(f"{name} ({library.path(name)}, hash {prompt.template_hash})")
    for message in prompt.messages:
        console.rule(message["role"], align="left")
        console.print(message["content"], markup=False, highlight=False)


@app.command()
def compare(
    source: DatabaseSource = "runs/demo",
    template: Annotated[Optional[str], typer.Option(help="Only this template (e.g. instruction).")] = None,
    campaign: Annotated[Optional[int], typer.Option(help="Only pairs of this campaign id.")] = None,
) -> None:
    """Each template version (content hash) with the pairs it took part in: acceptance rate, mean score."""
    with session_scope(database_url_of(source), create=False) as session:
        rows = template_outcomes(session, campaign, template)
        costs = template_costs(session, campaign, template)
    if not rows:
        fail(f"no pairs in {source}" + (f" used a template named {template!r}" if template else ""))
    table = Table(title="prompt template versions by outcome")
    for column in ("template", "hash", "first used", "pairs", "judged", PairStatus.accepted, "acceptance rate",
                   "mean score", "cost per accepted"):
        table.add_column(column, justify="left" if column in ("template", "hash", "first used") else "right")
    for row in rows:
        rate = "-" if row.acceptance_rate is None else f"{row.acceptance_rate:.0%}"
        mean = "-" if row.mean_score is None else f"{row.mean_score:.2f}"
        first = f"{row.first_used:%Y-%m-%d %H:%M}" if row.first_used else "-"
        # Priced campaigns only: a version whose pairs have no price shows none.
        cost = costs.get((row.template, row.content_hash))
        per_accepted = money(cost / row.accepted) if cost is not None and row.accepted else "-"
        table.add_row(row.template, row.content_hash, first, str(row.pairs), str(row.judged), str(row.accepted), rate,
                      mean, per_accepted)
    console.print(table)
