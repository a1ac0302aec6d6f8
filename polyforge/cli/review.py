"""`polyforge review`: the annotators' web app over a database."""

from __future__ import annotations

from typing import Annotated

import typer

from polyforge.cli.common import DatabaseSource, console, database_url_of

app = typer.Typer()


@app.command()
def review(
    source: DatabaseSource = "runs/demo",
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 to let others on the network in).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the annotators' web app: the flagged pairs, and a verdict form for each (JSON API at /docs)."""
    import uvicorn

    from polyforge.review import create_app

    url = database_url_of(source)
    console.print(f"review app for {source}: http://{host}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(create_app(url), host=host, port=port, log_level="warning")
