"""Secrets and personal data: found by kind, redacted or dropped at ingest, gated in what models write, and never
exported. The planted values are put together at run time, so this file holds no credential-shaped string."""

import asyncio
import json

import pytest

from doubles import CLASSIFICATION, ScriptedBackend, language_of, stage_of, uniform_scores, answer_in
from polyforge.agents.gates import sensitive_gate
from polyforge.cli import app
from polyforge.cli.common import console
from polyforge.cli.views import print_summary
from polyforge.config import CampaignConfig, IngestConfig
from polyforge.export import ExportFilter, export
from polyforge.generation.campaign import CampaignRunner
from polyforge.ingest import ingest
from polyforge.redaction import SensitiveScanner, redact
from polyforge.storage import IngestRun, Pair, Preference, open_engine, session_factory
from sqlalchemy import select
from typer.testing import CliRunner

STEP = "secrets and personal data"


def joined(*parts: str) -> str:
    return "".join(parts)


# kind -> (the planted value, a line of code that holds it)
AWS = joined("AKIA", "IOSFODNN7", "Q3XMPLE")
GITHUB = joined("ghp_", "wWPw5k4aXcaT4fNP0Ucn", "ZwJUVFk6LO0pINUx")
SLACK = joined("xoxb-", "123456789012-1234567890123-", "AbCdEfGhIjKlMnOpQrStUvWx")
STRIPE = joined("sk_", "live_", "4eC39HqLyjWDarjtT1zdp7dc")
JWT = joined("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", ".eyJzdWIiOiIxMjM0NTY3ODkwIn0",
             ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
PEM_BODY = joined("MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyu", "vBjM9OiJjRazXBZ1BjP5CE/Wm/Rr500P")
PRIVATE_KEY = joined("-----BEGIN RSA ", "PRIVATE KEY-----\n", PEM_BODY, "\n-----END RSA ", "PRIVATE KEY-----")
URL_PASSWORD = joined("Tr0ub4dor", "Xyz")
PASSWORD = joined("correct", "horse", "battery")
EMAIL = joined("jane.doe", "@", "acme-corp.com")
IPV4 = joined("34.201", ".17.2")
IPV6 = joined("2a03:2880:", "f12f:83:face:b00c::25de")

PLANTED = {
    "aws_access_key": (AWS, f'aws_key = "{AWS}"'),
    "github_token": (GITHUB, f'token = "{GITHUB}"'),
    "slack_token": (SLACK, f'slack = "{SLACK}"'),
    "stripe_access_key": (STRIPE, f'stripe.api = "{STRIPE}"'),
    "json_web_token": (JWT, f'session = "{JWT}"'),
    "private_key": (PEM_BODY, f'KEY = """{PRIVATE_KEY}"""'),
    "basic_auth_credentials": (URL_PASSWORD, f'DB = "postgres://admin:{URL_PASSWORD}@db.internal.net:5432/app"'),
    "secret_keyword": (PASSWORD, f'password = "{PASSWORD}"'),
    "email": (EMAIL, f'MAINTAINER = "Jane Doe <{EMAIL}>"'),
    "ip_address": (IPV4, f'SERVER = "{IPV4}"'),
}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_each_kind_is_found_and_redacted_with_a_typed_placeholder(kind):
    value, line = PLANTED[kind]
    text = f"def configure():\n    {line}\n    return locals()\n"
    findings = SensitiveScanner().find(text, "settings.py")
    assert [finding.kind for finding in findings] == [kind]
    redacted = redact(text, findings)
    category = "PII" if kind in ("email", "ip_address") else "SECRET"
    assert value not in redacted and f"<{category}:{kind}>" in redacted
    assert redacted.startswith("def configure():\n") and redacted.endswith("    return locals()\n")


def test_a_token_is_redacted_whole_and_an_ipv6_address_is_personal():
    text = f'token = "{GITHUB}"  # owner at {IPV6}\n'
    redacted = redact(text, SensitiveScanner().find(text, "x.py"))
    assert redacted == 'token = "<SECRET:github_token>"  # owner at <PII:ip_address>\n'


@pytest.mark.parametrize("text", [
    'contact = "someone@example.com"',  # a reserved domain
    'HOST = "10.0.0.1"; LOCAL = "127.0.0.1"; DOCS = "203.0.113.7"',  # private, loopback, documentation
    'DNS = "8.8.8.8"',  # a public resolver names nobody
    'print("version 1.2.3.4")',
    'icon = "logo@2x.png"',
    "def check(password):\n    return len(password) > 8\n",
])
def test_what_is_not_secret_or_personal_is_kept(text):
    assert SensitiveScanner().find(text, "x.py") == []


def test_either_search_can_be_turned_off():
    text = f'key = "{AWS}"  # {EMAIL}'
    assert [f.kind for f in SensitiveScanner(personal_data=False).find(text)] == ["aws_access_key"]
    assert [f.kind for f in SensitiveScanner(secrets=False).find(text)] == ["email"]


def planted_repo(root):
    """A folder with one function per planted kind, and one clean function."""
    functions = [f"def setting_{index}():\n    {line}\n    return {{'value': 1, 'index': {index}, 'kind': 'x'}}\n"
                 for index, (_, line) in enumerate(PLANTED.values())]
    functions.append("def clean(values):\n    total = 0\n    for value in values:\n        total += value * 2\n"
                     "    return total\n")
    root.mkdir()
    (root / "settings.py").write_text("\n\n".join(functions))
    return root


def ingest_planted(tmp_path, **settings):
    config = IngestConfig(workers=1, near_duplicate_threshold=1.0, min_snippet_tokens=4, **settings)
    return ingest([planted_repo(tmp_path / "repo")], config)


def test_ingest_redacts_every_kind_by_default_and_counts_them(tmp_path):
    report = ingest_planted(tmp_path)
    assert len(report.snippets) == len(PLANTED) + 1
    code = "\n".join(snippet.code for snippet in report.snippets)
    for kind, (value, _) in PLANTED.items():
        assert value not in code, kind
        assert f":{kind}>" in code
    step = report.steps[STEP]
    assert step.seen == step.kept == len(PLANTED) + 1 and not step.dropped
    assert step.found == {("pii:" if kind in ("email", "ip_address") else "secret:") + kind: 1 for kind in PLANTED}


def test_ingest_drops_or_keeps_as_configured(tmp_path):
    report = ingest_planted(tmp_path, secrets="drop", personal_data="keep")
    codes = [snippet.code for snippet in report.snippets]
    assert len(codes) == 3  # the clean function, and the two holding personal data, kept as they were
    assert any(EMAIL in code for code in codes) and any(IPV4 in code for code in codes)
    dropped = report.steps[STEP].dropped
    assert sum(dropped.values()) == len(PLANTED) - 2 and dropped["secret (aws_access_key)"] == 1
    assert report.languages["Python"].dropped["secret (private_key)"] == 1


def test_nothing_is_scanned_when_both_are_kept(tmp_path):
    report = ingest_planted(tmp_path, secrets="keep", personal_data="keep")
    assert STEP not in report.steps and AWS in "\n".join(snippet.code for snippet in report.snippets)


def test_the_ingest_command_counts_by_kind(tmp_path, monkeypatch):
    monkeypatch.setattr(console, "width", 300)
    result = CliRunner().invoke(app, ["ingest", str(planted_repo(tmp_path / "repo")), "--db", str(tmp_path / "i.db")])
    assert result.exit_code == 0, result.output
    assert "secrets and personal data: found at ingest: pii:email 1, pii:ip_address 1, secret:aws_access_key 1" \
        in result.output and "(redacted)" in result.output


def test_the_gate_redacts_and_names_the_kinds():
    text, reason = sensitive_gate(f"Send the report to {EMAIL} with key {AWS}.", "the instruction")
    assert text == "Send the report to <PII:email> with key <SECRET:aws_access_key>."
    assert reason == "sensitive data: the instruction (aws_access_key, email)"
    assert sensitive_gate("Sum a list of integers.", "the answer") == ("Sum a list of integers.", None)


def leaky_script(criteria):
    """Instructions alternate between a clean task and one that names a person's e-mail address; answers alternate
    between one that embeds a private key and a clean one; the judge accepts everything it sees."""
    instructions = iter(range(1000))
    answers = iter(range(1000))

    def reply(messages, json_schema):
        stage = stage_of(messages)
        if stage == "instruction":
            return "Write a function that sums a list." if next(instructions) % 2 else \
                f"Write a function that sums a list; questions to {EMAIL}."
        if stage == "answer":
            language = language_of(messages)
            clean = answer_in(language)
            return clean if next(answers) % 2 else clean.replace("```\n", f"```\nKEY = '''{PRIVATE_KEY}'''\n", 1) \
                .replace("Sum the integers.", f"Sum the integers (token {GITHUB}).")
        if stage == "classify":
            return CLASSIFICATION
        return uniform_scores(9, criteria)

    return reply


def test_planted_secrets_and_personal_data_never_reach_an_export(tmp_path, criteria, capsys, monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = CampaignConfig.model_validate({
        "name": "leaks", "output_dir": str(tmp_path / "out"), "database_url": db_url,
        "sources": [{"path": str(planted_repo(tmp_path / "repo"))}], "languages": ["Python"],
        "ingest": {"min_snippet_tokens": 4}, "budgets": {"max_pairs": 8}, "concurrency": 1,
        "sampling": {"candidates": 2}, "memory": {"enabled": False}, "execution": {"enabled": False},
        "judge": {"preferences_from_scores": True},
    })
    backend = ScriptedBackend(leaky_script(criteria))
    asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    engine = open_engine(db_url, create=False)
    with session_factory(engine)() as session:
        pairs = session.scalars(select(Pair)).all()
        reasons = [pair.error for pair in pairs if pair.status == "rejected"]
        assert "gate: sensitive data: the instruction (email)" in reasons
        assert sum(pair.status == "accepted" for pair in pairs) >= 2
        stored = " ".join(f"{pair.instruction} {pair.answer}" for pair in pairs)
        assert EMAIL not in stored and "<PII:email>" in stored
        run = session.scalars(select(IngestRun)).one()
        assert run.steps[STEP]["found"]["secret:aws_access_key"] == 1
        assert session.scalars(select(Preference)).all() == []  # the leaky candidates are no preference material
        exported = []
        for name in ("sft-jsonl", "dpo-jsonl", "fim-jsonl"):
            result = export(session, tmp_path / "export" / f"{name}.jsonl", name,
                            ExportFilter(("accepted", "flagged", "rejected")))
            exported.append(result.data_path.read_text() + result.card_path.read_text())
    engine.dispose()
    card = exported[0]
    assert "found at ingest: pii:email 1, pii:ip_address 1, secret:aws_access_key 1" in card
    assert "pairs dropped by the gate: email 4" in card and "placeholders left in these rows: none" in card
    monkeypatch.setattr(console, "width", 300)
    print_summary(db_url, 1)
    assert "pairs dropped by the gate: email 4" in capsys.readouterr().out
    text = "\n".join(exported)
    assert json.loads(exported[0].splitlines()[0])["messages"][1]["content"]
    for value, _ in PLANTED.values():
        assert value not in text
    assert GITHUB not in text and "BEGIN RSA" not in text
