"""Prompt templates as files: a campaign's folder overrides the bundled ones, previews, version comparison."""

import asyncio

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.cli import app
from polyforge.config import load_config
from polyforge.generation.campaign import CampaignRunner
from polyforge.prompts import BUNDLED, PromptError, PromptLibrary
from polyforge.storage import Pair, PromptVersion, open_engine, session_factory
from polyforge.storage.report import template_outcomes

ANSWER_OVERRIDE = """{% block system %}
You are a terse {{ language }} programmer.
{% endblock %}
{% block user %}
{{ instruction }}
Reply with {{ language }} code only.
{% endblock %}
"""


@pytest.fixture
def override(tmp_path):
    folder = tmp_path / "my-prompts"
    folder.mkdir()
    (folder / "answer.j2").write_text(ANSWER_OVERRIDE)
    return folder


def test_a_folder_overrides_bundled_templates_by_name(override):
    library = PromptLibrary(override)
    assert library.names() == BUNDLED.names()  # the others still come from the bundled folder
    assert library.path("answer") == override / "answer.j2" and library.path("judge") == BUNDLED.path("judge")
    assert library.template_hash("answer") != BUNDLED.template_hash("answer")
    assert library.template_hash("judge") == BUNDLED.template_hash("judge")
    prompt = library.render("answer", language="Go", instruction="Sum a slice.")
    assert prompt.messages == [{"role": "system", "content": "You are a terse Go programmer."},
                               {"role": "user", "content": "Sum a slice.\nReply with Go code only."}]
    assert library.variables("answer") == {"language", "instruction"}


def test_template_errors_name_the_file(override, tmp_path):
    (override / "tester.j2").write_text("{% block system %}x{% endblock %}")
    with pytest.raises(PromptError, match=r"my-prompts/tester.j2: missing the \{% block user %\} block"):
        PromptLibrary(override).render("tester", language="Go", instruction="i", code="c")
    with pytest.raises(PromptError, match=r"answer.j2: 'instruction' is undefined"):
        PromptLibrary(override).render("answer", language="Go")
    with pytest.raises(PromptError, match="prompts folder .* not found"):
        PromptLibrary(tmp_path / "missing")


def test_a_campaign_renders_its_folder_and_records_the_versions(sample_repo, tmp_path, override, criteria):
    """Two campaigns, bundled prompts then the override: `compare` tells the answer versions apart."""
    def write_config(name, prompts):
        raw = {"name": name, "output_dir": "out", "sources": [{"path": str(sample_repo)}], "languages": ["Python"],
               "budgets": {"max_pairs": 2}, "memory": {"enabled": False}, "execution": {"enabled": False},
               "concurrency": 1, **({"prompts": {"folder": prompts}} if prompts else {})}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(raw))
        return load_config(path, {"output_dir": str(tmp_path / "out")})

    seen_systems = []

    def reply(messages, schema):
        if stage_of(messages) == "answer":
            seen_systems.append(messages[0]["content"])
        return pipeline_script(lambda m: uniform_scores(2, criteria))(messages, schema)

    backend = ScriptedBackend(reply)
    asyncio.run(CampaignRunner(write_config("bundled", None), backends=(backend, backend)).run())
    tuned = write_config("tuned", "my-prompts")  # relative to the config file
    assert tuned.prompts.folder == override
    seen_systems.clear()
    asyncio.run(CampaignRunner(tuned, backends=(backend, backend)).run())
    assert seen_systems and all(s == "You are a terse Python programmer." for s in seen_systems)

    url = f"sqlite:///{tmp_path / 'out' / 'polyforge.db'}"
    engine = open_engine(url)
    with session_factory(engine)() as session:
        hashes = {p.templates["answer"] for p in session.scalars(select(Pair))}
        assert hashes == {BUNDLED.template_hash("answer"), PromptLibrary(override).template_hash("answer")}
        stored = session.scalar(select(PromptVersion.content).where(
            PromptVersion.content_hash == PromptLibrary(override).template_hash("answer")))
        assert stored == ANSWER_OVERRIDE
        rows = template_outcomes(session, template="answer")
    engine.dispose()
    assert [(row.content_hash, row.pairs) for row in rows] == [
        (BUNDLED.template_hash("answer"), 2), (PromptLibrary(override).template_hash("answer"), 2)]

    compared = CliRunner().invoke(app, ["prompts", "compare", url, "--template", "answer"])
    assert compared.exit_code == 0, compared.output
    assert BUNDLED.template_hash("answer") in compared.output
    assert PromptLibrary(override).template_hash("answer") in compared.output


def test_preview_and_list_from_the_command_line(override):
    runner = CliRunner()
    shown = runner.invoke(app, ["prompts", "preview", "answer", "--folder", str(override), "--language", "Rust",
                                "--set", "instruction=Parse [a] date."])
    assert shown.exit_code == 0, shown.output
    assert "You are a terse Rust programmer." in shown.output and "Parse [a] date." in shown.output
    listed = runner.invoke(app, ["prompts", "list", "--folder", str(override)])
    assert listed.exit_code == 0
    origins = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in listed.output.splitlines()
               if line.count("│") > 3}
    assert origins["answer"] == "folder" and origins["judge"] == "bundled"
    unknown = runner.invoke(app, ["prompts", "preview", "no-such-template"])
    assert unknown.exit_code == 2 and "not found" in unknown.output
    bad = runner.invoke(app, ["prompts", "preview", "answer", "--set", "instruction"])
    assert bad.exit_code == 2 and "expected NAME=VALUE" in bad.output
