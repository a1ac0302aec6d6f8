"""`polyforge review ...`: the annotators' web app over a database, and its accounts."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import urlsplit

import typer

from polyforge.cli.common import DatabaseSource, console, database_url_of, fail, input_file
from polyforge.cli.judging_views import print_agreement, print_assignment, print_users

app = typer.Typer(help="The annotators' web app, and its accounts.", no_args_is_help=True)
users = typer.Typer(help="Accounts of the review app: annotators and admins, and API tokens for scripts.",
                    no_args_is_help=True)
app.add_typer(users, name="users")

DatabaseOption = Annotated[str, typer.Option("--db", help="A campaign output folder, a .db file, or a database URL.")]


class Role(str, Enum):
    annotator = "annotator"
    admin = "admin"


@app.command("serve")
def serve(
    source: DatabaseSource = "runs/demo",
    host: Annotated[str, typer.Option(
        help="Address to listen on; anything but 127.0.0.1 lets others on the network in.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    public_url: Annotated[Optional[list[str]], typer.Option(
        help="An address annotators open besides http://HOST:PORT (a name of this machine, the https address of "
             "a proxy in front); requests naming another host are refused. Repeatable.")] = None,
    certfile: Annotated[Optional[Path], typer.Option(help="Serve https with this certificate (PEM).")] = None,
    keyfile: Annotated[Optional[Path], typer.Option(help="The certificate's private key (PEM).")] = None,
    behind_proxy: Annotated[Optional[str], typer.Option(
        help="The address of a reverse proxy that terminates https and forwards to this app: its X-Forwarded-Proto "
             "and X-Forwarded-For headers are trusted (session cookies become Secure).")] = None,
    api_docs: Annotated[bool, typer.Option(
        "--api-docs", help="Describe the JSON API to logged-in users at /docs and /openapi.json (off by default).")
    ] = False,
    session_hours: Annotated[float, typer.Option(
        help="How long a browser login lasts; a new login ends the user's older sessions.", min=0.1)] = 12.0,
    token_days: Annotated[float, typer.Option(
        help="How long an API token is accepted after it was made (0: forever).", min=0)] = 90.0,
) -> None:
    """Serve the annotators' web app: log in, the flagged pairs, a verdict form for each, and a JSON API (described
    at /docs with --api-docs)."""
    import uvicorn

    from polyforge.review import create_app
    from polyforge.review.security import WebSettings, is_loopback
    from sqlalchemy import select

    from polyforge.storage import Assignment, User, session_scope

    url = database_url_of(source)
    for public in public_url or []:
        if urlsplit(public).scheme not in ("http", "https") or not urlsplit(public).hostname:
            fail(f"--public-url {public}: not an http:// or https:// address")
    if (certfile is None) != (keyfile is None):
        fail(f"--certfile and --keyfile go together (got only {certfile or keyfile})")
    ssl = {}
    if certfile and keyfile:
        ssl = {"ssl_certfile": str(input_file(certfile, "--certfile ")),
               "ssl_keyfile": str(input_file(keyfile, "--keyfile "))}
    settings = WebSettings(host=host, port=port, public_urls=tuple(public_url or ()), session_hours=session_hours,
                           token_days=token_days or None, api_docs=api_docs)
    scheme = "https" if ssl else "http"
    console.print(f"review app for {source}: {scheme}://{host}:{port}/ (Ctrl+C stops it)")
    if not is_loopback(host) and not ssl and behind_proxy is None:
        console.print(f"[bold yellow]warning:[/] listening on {host} over plain http: passwords and session cookies "
                      "cross the network readable by anyone on it; serve https (--certfile/--keyfile), or put an "
                      "https proxy in front (--behind-proxy ADDRESS --public-url https://NAME)")
    with session_scope(url, create=False) as session:  # opening it also brings an older schema up to date
        anybody = session.scalar(select(User.id).limit(1)) is not None
        assigned = session.scalar(select(Assignment.id).limit(1)) is not None
    if not anybody:
        console.print("[yellow]no accounts yet:[/] add one with `polyforge review users add NAME --role admin "
                      f"--db {source}`")
    elif not assigned:
        console.print("[yellow]no pairs assigned yet:[/] annotators see only their own; hand pairs out with "
                      f"`polyforge review assign {source}` (or from /admin)")
    uvicorn.run(create_app(url, settings), host=host, port=port, log_level="warning",
                proxy_headers=behind_proxy is not None, forwarded_allow_ips=behind_proxy or "", **ssl)


class Route(str, Enum):
    flagged = "flagged"
    accepted = "accepted"
    rejected = "rejected"


@app.command("assign")
def assign_pairs(
    source: DatabaseSource = "runs/demo",
    overlap: Annotated[int, typer.Option(help="Annotators per pair, who review it independently.", min=1)] = 2,
    status: Annotated[Route, typer.Option(
        help="The judge's route of the pairs: flagged, or accepted / rejected for an audit.")] = Route.flagged,
    campaign: Annotated[Optional[int], typer.Option(help="Only this campaign's pairs.")] = None,
    language: Annotated[Optional[str], typer.Option(help="Only pairs in this language.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Assign at most this many pairs (in id order).", min=1)] = None,
    sample: Annotated[Optional[int], typer.Option(
        help="Assign a random sample of this many pairs (an audit of the judge's accepted or rejected).", min=1)
    ] = None,
    seed: Annotated[int, typer.Option(help="The random seed of --sample.")] = 0,
) -> None:
    """Give the undecided pairs to annotators, OVERLAP distinct ones each, those with the fewest open pairs first;
    each annotator then sees only their own pairs."""
    from polyforge.storage.assignments import AssignmentError, assign
    from polyforge.storage.reviews import QueueFilter

    with _database(source) as session:
        try:
            report = assign(session, QueueFilter(status.value, campaign, language), overlap, limit, sample, seed)
        except AssignmentError as exc:
            fail(str(exc))
    print_assignment(report, overlap)


@app.command("agreement")
def agreement_command(
    source: DatabaseSource = "runs/demo",
    campaign: Annotated[Optional[int], typer.Option(help="Only this campaign's pairs.")] = None,
) -> None:
    """Agreement between annotators on their verdicts: Krippendorff's alpha overall and per language, and Cohen's
    kappa for every pair of annotators."""
    from polyforge.review.agreement import agreement

    with _database(source) as session:
        print_agreement(agreement(session, campaign))


def _read_password() -> str:
    """The new password: asked twice in a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return typer.prompt("password", hide_input=True, confirmation_prompt=True)
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("password: none on stdin (pipe it as one line, or run in a terminal to be asked)")
    return password


def _database(db: str):
    """A session on the database DB names, for the commands below."""
    from polyforge.storage import session_scope

    return session_scope(database_url_of(db), create=False)


@users.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[Role, typer.Option(help="annotator: reviews pairs; admin: also sees the accounts.")
                    ] = Role.annotator,
    db: DatabaseOption = "runs/demo",
) -> None:
    """Add a user; the password is asked for (or read from stdin when it is not a terminal) and stored hashed."""
    from polyforge.storage.accounts import AccountError, add_user, check_new_user

    with _database(db) as session:
        try:
            check_new_user(session, name, role.value)  # before asking for a password
            add_user(session, name, role.value, _read_password())
        except AccountError as exc:
            fail(str(exc))
    console.print(f"added {role.value} {name}")


@users.command("list")
def users_list(db: DatabaseOption = "runs/demo") -> None:
    """The users, their roles and how many API tokens each holds."""
    from polyforge.storage.accounts import list_users

    with _database(db) as session:
        print_users(list_users(session))


@users.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="The login name.")], db: DatabaseOption = "runs/demo"
                 ) -> None:
    """Remove a user with their tokens and sessions (their verdicts stay, under their name)."""
    from polyforge.storage.accounts import AccountError, remove_user

    with _database(db) as session:
        try:
            remove_user(session, name)
        except AccountError as exc:
            fail(str(exc))
    console.print(f"removed {name}")


@users.command("token")
def users_token(name: Annotated[str, typer.Argument(help="The login name.")], db: DatabaseOption = "runs/demo"
                ) -> None:
    """Print a new API token for a user, once (only its hash is kept); scripts send it as
    `Authorization: Bearer TOKEN`."""
    from polyforge.storage.accounts import AccountError, new_token

    with _database(db) as session:
        try:
            token = new_token(session, name)
        except AccountError as exc:
            fail(str(exc))
    console.print(f"API token for {name} (shown once; `users remove` revokes every token of a user):", style="dim",
                  highlight=False)
    typer.echo(token)
