"""The `polyforge` command line: one typer app built from the command-group modules, thin glue over the
packages below it (tables and printing live in `views`, shared plumbing in `common`)."""

from __future__ import annotations

import os

import typer

from polyforge.cli import campaign, data, judge, models, prompts, review, sandbox, serve, training

app = typer.Typer(help="Polyforge: multi-agent synthetic instruction data for code LLMs.", no_args_is_help=True)
for group in (campaign, data, training):  # their commands sit at the top level
    app.add_typer(group.app)
app.add_typer(review.app, name="review")
app.add_typer(judge.app, name="judge")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(prompts.app, name="prompts")
app.add_typer(models.app, name="models")
app.add_typer(serve.app, name="serve")


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()
