"""Every command, given the bad inputs a new user tries, ends with one clear message naming what is wrong and a
non-zero exit status, never a traceback. A command added without bad-input cases here fails the walk."""

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.storage import database_url, session_scope
from servers import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Paths:
    """Bad and good inputs, made once per test in its temporary folder."""

    tmp: Path

    def __post_init__(self):
        self.text_db = self.tmp / "x.db"  # a text file named like a database
        self.text_db.write_text("not a database\n")
        self.foreign_db = self.tmp / "foreign.db"  # a valid SQLite database without Polyforge's tables
        with sqlite3.connect(self.foreign_db) as connection:
            connection.execute("CREATE TABLE notes (body TEXT)")
        connection.close()
        self.good_db = self.tmp / "good.db"  # an empty Polyforge database
        with session_scope(database_url(self.good_db)):
            pass
        self.a_file = self.tmp / "file.txt"
        self.a_file.write_text("a file\n")
        self.under_file = self.a_file / "sub" / "out"  # a path whose parent is a regular file
        self.folder = self.tmp / "folder"
        self.folder.mkdir()
        self.missing = self.tmp / "missing.yaml"
        self.unreachable_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there


def foreign_databases(p: Paths, *args: str) -> list[tuple[list[str], object]]:
    """The database argument as a text file, a foreign SQLite file, a folder without polyforge.db, and URLs
    of an unknown dialect and of a driver that is not installed."""
    urls = ("nosuchdialect://host/db", "mysql://user@localhost/db")
    return [([str(db), *args], db) for db in (p.text_db, p.foreign_db, p.folder, *urls)]


# command path -> the bad invocations: (arguments after the command, the path or value the message must name)
CASES = {
    "run": lambda p: [
        ([str(p.missing)], p.missing),
        ([str(p.folder)], p.folder),
        ([str(p.text_db)], p.text_db),
        ([str(p.foreign_db)], p.foreign_db),
        ([str(ROOT / "examples" / "campaign.yaml"), "--out", str(p.under_file)], p.a_file),
        ([str(ROOT / "examples" / "campaign.yaml"), "--out", str(p.a_file)], p.a_file),
    ],
    "status": lambda p: foreign_databases(p),
    "report": lambda p: [
        *foreign_databases(p),
        ([str(p.good_db), "--html", str(p.folder)], p.folder),
        ([str(p.good_db), "--html", str(p.under_file)], p.a_file),
        ([str(p.good_db), "--html", str(p.tmp / "report.html")], p.good_db),  # no campaign in it
    ],
    "review serve": lambda p: [
        *foreign_databases(p),
        ([str(p.good_db), "--public-url", "ftp://review.example"], "ftp://review.example"),
        ([str(p.good_db), "--certfile", str(p.missing), "--keyfile", str(p.a_file)], p.missing),
        ([str(p.good_db), "--certfile", str(p.a_file)], p.a_file),
    ],
    "review users add": lambda p: [
        *[(["ana", "--db", *args], named) for args, named in foreign_databases(p)],
        (["ana", "--db", str(p.good_db)], "password"),  # nothing on stdin
        (["ana", "--db", str(p.good_db), "--role", "boss"], "boss"),
        (["two words", "--db", str(p.good_db)], "two words"),
    ],
    "review assign": lambda p: [
        *foreign_databases(p),
        ([str(p.good_db), "--overlap", "2"], "overlap 2 needs 2 annotators"),  # no annotator yet
        ([str(p.good_db), "--overlap", "0"], "--overlap"),
        ([str(p.good_db), "--status", "duplicate"], "duplicate"),
    ],
    "review agreement": lambda p: foreign_databases(p),
    "review users list": lambda p: [(["--db", *args], named) for args, named in foreign_databases(p)],
    "review users remove": lambda p: [
        *[(["ana", "--db", *args], named) for args, named in foreign_databases(p)],
        (["nobody", "--db", str(p.good_db)], "nobody"),
    ],
    "review users token": lambda p: [
        *[(["ana", "--db", *args], named) for args, named in foreign_databases(p)],
        (["nobody", "--db", str(p.good_db)], "nobody"),
    ],
    "export": lambda p: [
        *foreign_databases(p, "--format", "sft-jsonl", "--out", str(p.tmp / "out.jsonl")),
        ([str(p.good_db), "--out", str(p.under_file)], p.a_file),
        ([str(p.good_db), "--out", str(p.folder), "--format", "sft-jsonl"], p.folder),
        ([str(p.good_db), "--out", str(p.a_file), "--format", "sft-hf"], p.a_file),
        ([str(p.good_db), "--out", str(p.tmp / "out.csv"), "--format", "csv"], "csv"),
    ],
    "train": lambda p: [
        *foreign_databases(p),
        ([str(p.good_db), "--out", str(p.under_file)], p.a_file),
        ([str(p.good_db), "--config", str(p.missing)], p.missing),
        ([str(p.good_db), "--out", str(p.tmp / "run"), "--deepspeed", "zero9"], "zero9"),
        ([str(p.good_db), "--out", str(p.tmp / "run"), "--launcher", "slurm"], "slurm"),
        ([str(p.good_db), "--out", str(p.tmp / "run"), "--num-processes", "2"], "--launcher accelerate"),
        ([str(p.good_db), "--out", str(p.tmp / "run"), "--launcher", "accelerate", "--deepspeed", "zero2"],
         "CUDA GPUs"),
    ],
    "eval": lambda p: [
        (["embedded", "--benchmark", str(p.tmp / "no-mceval")], p.tmp / "no-mceval"),
        (["embedded", "--out", str(p.under_file)], p.a_file),
        (["embedded", "--out", str(p.a_file)], p.a_file),  # --out is a folder: a file there is refused
        (["embedded", "--split", "train"], "split 'train'"),
        (["--base-url", "http://127.0.0.1:9/v1"], "--base-url needs --model"),
    ],
    "demo": lambda p: [
        (["--out", str(p.under_file)], p.a_file),
        (["--out", str(p.a_file)], p.a_file),
    ],
    "identify": lambda p: [([str(p.missing)], p.missing)],
    "ingest": lambda p: [
        ([str(p.folder), "--db", str(p.under_file / "x.db")], p.a_file),
        ([str(p.folder), "--db", str(p.text_db)], p.text_db),
        ([str(p.folder), "--db", str(p.tmp / "new.db"), "--config", str(p.missing)], p.missing),
    ],
    "judge calibrate": lambda p: [
        *foreign_databases(p),
        ([str(p.good_db), "--verdicts", str(p.missing)], p.missing),
    ],
    "sandbox doctor": lambda p: [(["unexpected.txt"], "unexpected.txt")],
    "sandbox run": lambda p: [
        ([str(p.missing), "--language", "python"], p.missing),
        ([str(p.folder), "--language", "python"], p.folder),
    ],
    "sandbox missing-packages": lambda p: [(["yum"], "yum")],
    "sandbox selftest": lambda p: [([str(p.tmp / "no-mceval")], p.tmp / "no-mceval")],
    "prompts list": lambda p: [(["--folder", str(p.tmp / "no-prompts")], p.tmp / "no-prompts")],
    "prompts preview": lambda p: [
        (["instruction", "--snippet", str(p.missing)], p.missing),
        (["instruction", "--snippet", str(p.folder)], p.folder),
        (["instruction", "--folder", str(p.tmp / "no-prompts")], p.tmp / "no-prompts"),
    ],
    "prompts compare": lambda p: foreign_databases(p),
    "judge bench": lambda p: [
        ([str(p.tmp / "no-mceval")], p.tmp / "no-mceval"),
        ([str(p.folder), "--model", "no-such-model"], "no-such-model"),
        (["--base-url", "http://127.0.0.1:8000/v1"], "--model"),
        (["--config", str(p.missing)], p.missing),
        (["--config", str(ROOT / "examples" / "campaign.yaml"), "--base-url", "http://127.0.0.1:8000/v1"], "--config"),
        (["--base-url", p.unreachable_url, "--model", "m", "--language", "Python"], p.unreachable_url),
    ],
    "models install": lambda p: [(["no-such-model"], "no-such-model")],
    "models list": lambda p: [(["extra"], "extra")],
    "serve vllm": lambda p: [
        ([str(p.tmp / "no-model")], p.tmp / "no-model"),
        ([str(p.folder)], "config.json"),  # a folder that is not a transformers model
        (["--replicas", "0"], "--replicas"),
        (["--log-dir", str(p.a_file)], p.a_file),
        (["--python", str(p.missing)], p.missing),
    ],
}


def registered_commands(group, prefix: str = "") -> set[str]:
    """Every command path of the app, sub-groups walked."""
    found = set()
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a sub-group (typer's click may be its own copy)
            found |= registered_commands(command, f"{prefix}{name} ")
        else:
            found.add(f"{prefix}{name}")
    return found


def test_every_registered_command_has_bad_input_cases():
    assert set(CASES) == registered_commands(typer.main.get_command(app))


@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_input_ends_with_a_message_naming_it_and_no_traceback(command, tmp_path):
    paths = Paths(tmp_path)
    for args, named in CASES[command](paths):
        result = CliRunner().invoke(app, [*command.split(), *args])
        shown = f"polyforge {command} {' '.join(args)}\n{result.output}"
        assert result.exit_code != 0, shown
        assert isinstance(result.exception, SystemExit), shown
        assert "Traceback" not in result.output, shown
        assert str(named) in result.output, shown
