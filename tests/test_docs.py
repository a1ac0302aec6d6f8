"""The documentation site (docs/, mkdocs.yml) and the README: the site builds strictly, its reference pages are what
the code generates, every example config loads, and every shell command in a ```bash block of a page or the README
runs here against a small campaign database, so that a renamed command or option breaks the build, not the reader.

Commands that need servers, models or minutes run as far as they can without them: the command line parses their
arguments (unknown options, bad values and missing arguments fail) and the config they name is loaded; each such
command says why below."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main
from mkdocs.__main__ import cli as mkdocs_cli
from typer.testing import CliRunner

from factories import campaign_with_snippets, pair
from polyforge.checklists import load_checklist
from polyforge.cli import app
from polyforge.config import load_config
from polyforge.docs_reference import REGENERATE, stale_pages
from polyforge.review import create_app
from polyforge.storage import JudgeScore, Preference, PromptVersion, Review, database_url, session_scope
from polyforge.storage.accounts import add_user
from polyforge.storage.assignments import assign
from polyforge.storage.reviews import QueueFilter
from polyforge.terms import PairStatus

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDES = sorted(path for path in DOCS.rglob("*.md") if "reference" not in path.parts)
README_MAX_LINES = 250
PASSWORD = "docs-password"

# Polyforge commands that are parsed, not run, and why.
PARSE_ONLY = {
    ("run",): "a campaign runs its models for minutes (its config is loaded and validated instead)",
    ("demo",): "the demo runs a campaign and trains for about 15 minutes",
    ("train",): "training runs for minutes, or on GPUs and several machines (its config is validated instead)",
    ("eval",): "evaluation completes a benchmark's tasks with a model for minutes",
    ("serve", "vllm"): "vLLM servers need .venv-vllm and minutes to load a model",
    ("review", "serve"): "the review app serves until it is stopped",
    ("judge", "bench"): "the judge bench runs a judge model over McEval tasks for minutes",
    ("sandbox", "selftest"): "the selftest runs McEval's reference solutions, minutes per language",
    ("models", "install"): "it assembles a 1.1 GB model from the `qwen` extra's packages, not installed by default",
}
PARSE_ONLY_OPTIONS = {"--watch": "--watch refreshes until Ctrl+C"}
# Other programs in the pages, and how each is checked.
MAKE_REASON = "make targets set up environments and run for minutes: `make -n` checks the target and its variables"
BENCH_REASON = "benchmark scripts run for minutes: their --help must list every option the page gives"
MKDOCS_REASON = "mkdocs serve runs until stopped, and the build is the strict-build test below: both are parsed"
VLLM_REASON = "vLLM's own server command, from the vLLM package in .venv-vllm; nothing of Polyforge's to check"


@dataclass(frozen=True)
class ShellCommand:
    page: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}: {self.text}"


def shell_commands(page: Path) -> list[ShellCommand]:
    """Each command of the page's ```bash blocks, continuation lines joined (comments are dropped by shlex)."""
    commands, in_block, pending, start = [], False, "", 0
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_block = line.strip() == "```bash" if not in_block else False
            continue
        if not in_block or (not pending and not line.strip()):
            continue
        start = start if pending else number
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            commands.append(ShellCommand(page, start, " ".join(pending.split())))
            pending = ""
    return commands


def command_path(root, program: str, args: list[str]) -> tuple[tuple[str, ...], object, list[str]]:
    """The command that `PROGRAM ARGS` names in a click or typer app (`root`), and the arguments left for it."""
    command, path = root, []
    while hasattr(command, "commands"):  # a group (typer brings a click of its own: no isinstance)
        assert args, f"`{program} {' '.join(path)}` needs a command"
        name, args = args[0], args[1:]
        command = command.commands.get(name)
        assert command is not None, f"no command `{program} {' '.join([*path, name])}`"
        path.append(name)
    return tuple(path), command, args


def parse(command, path: tuple[str, ...], args: list[str]) -> dict:
    """Parse as the command line would, without running the command: options, values and arguments are checked."""
    with command.make_context(" ".join(path), list(args)) as context:
        return context.params


@pytest.fixture
def workspace(tmp_path, monkeypatch, checklist) -> Path:
    """The folder the pages' commands run in: the repository's examples, files the pages name, and runs/demo, a
    finished campaign's database (Python and Go pairs with every criterion scored, made with two versions of the
    answer prompt; a preference; an annotator with verdicts on every pair assigned to her)."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "main.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "tests.py").write_text("assert double(2) == 4\n")
    demo = tmp_path / "runs" / "demo"
    demo.mkdir(parents=True)
    url = database_url(demo / "polyforge.db")
    weights = {criterion.id: criterion.weight for criterion in checklist.criteria}
    rows = [("Python", "accepted", 8.0, "accept"), ("Python", "accepted", 7.0, "reject"),
            ("Python", "rejected", 3.0, "reject"), ("Python", "flagged", 5.0, "accept"),
            ("Go", "accepted", 7.5, "accept"), ("Go", "rejected", 2.0, "reject"), ("Go", "flagged", 5.5, "reject")]
    with session_scope(url) as session:
        campaign, snippets = campaign_with_snippets(session, len(rows))
        campaign.name, campaign.status = "sample-demo", "finished"
        pairs = []
        for snippet, (language, status, score, _) in zip(snippets, rows):
            made = pair(campaign, snippet, language, status, f"Write f in {language} ({score}).", final_score=score,
                        answer="```\nfor i in range(3):\n    total = i\n    print(total)\n```", topic="algorithms",
                        difficulty="easy", checklist_hash=checklist.content_hash,
                        templates={"answer": "bundled" if language == "Python" else "edited"})
            made.scores = [JudgeScore(criterion=criterion, score=score if criterion != "easy_to_learn" else 5.0,
                                      weight=weight) for criterion, weight in weights.items()]
            pairs.append(made)
        session.add_all(pairs)
        session.flush()
        session.add_all([PromptVersion(name="answer", content_hash=version, content=f"{version} answer prompt")
                         for version in ("bundled", "edited")])
        session.add(Preference(pair_id=pairs[0].id, prompt=pairs[0].instruction, chosen="passes", rejected="fails",
                               chosen_score=8.0, rejected_score=3.0, reason="its tests passed"))
        annotator = add_user(session, "ana", "annotator", PASSWORD)
        for status in (PairStatus.flagged, PairStatus.accepted, PairStatus.rejected):
            assign(session, QueueFilter(status), overlap=1)
        session.add_all([Review(pair_id=made.id, annotator="ana", user_id=annotator.id, verdict=verdict)
                         for made, (*_, verdict) in zip(pairs, rows)])
        session.commit()
    (tmp_path / "verdicts.csv").write_text("pair_id,verdict\n" + "".join(
        f"{made.id},{verdict}\n" for made, (*_, verdict) in zip(pairs, rows)))
    shutil.copytree(demo, tmp_path / "runs" / "instructions")  # what `polyforge run examples/instructions.yaml` makes
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PASSWORD", PASSWORD)
    return tmp_path


def run_polyforge(args: list[str], stdin: str, where: ShellCommand) -> None:
    path, command, rest = command_path(typer.main.get_command(app), "polyforge", args)
    params = parse(command, path, rest)
    for config in (params.get("config"), params.get("config_path")):
        if isinstance(config, Path):
            load_config(config)
    reason = PARSE_ONLY.get(path) or next((why for option, why in PARSE_ONLY_OPTIONS.items() if option in rest), None)
    if reason:
        return
    result = CliRunner().invoke(app, args, input=stdin)
    assert result.exit_code == 0, f"{where}\nexit {result.exit_code}:\n{result.output}"


def check_route(args: list[str], where: ShellCommand) -> None:
    """A curl call to the review app: the route it names must exist with that method."""
    url = next(arg for arg in args if arg.startswith("http"))
    path = re.sub(r"/\d+(?=/|$)", "/{pair_id}", re.sub(r"^https?://[^/]+", "", url))
    method = "POST" if "-d" in args else "GET"
    routes = {(route.path, method_) for route in create_app(database_url(Path("runs/demo/polyforge.db"))).routes
              for method_ in getattr(route, "methods", ())}
    assert (path, method) in routes, f"{where}: the review app has no {method} {path}"


def check_help_lists(program: list[str], args: list[str], where: ShellCommand) -> None:
    shown = subprocess.run([*program, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert shown.returncode == 0, f"{where}: {shown.stderr}"
    for option in (arg.split("=")[0] for arg in args if arg.startswith("--")):
        assert option in shown.stdout, f"{where}: {option} is not an option of {' '.join(program)}"


def run_shell_command(command: ShellCommand) -> None:
    stdin = f"{PASSWORD}\n{PASSWORD}\n"
    args = shlex.split(command.text, comments=True)
    if "|" in args:  # `echo "$PASSWORD" | polyforge ...`: the echoed line is the command's standard input
        feeder, args = args[:args.index("|")], args[args.index("|") + 1:]
        assert feeder[0] == "echo", f"{command}: only echo feeds a command here"
        stdin = os.path.expandvars(" ".join(feeder[1:])) + "\n"
    program, rest = args[0].removeprefix(".venv/bin/"), args[1:]
    if program == "polyforge":
        run_polyforge(rest, stdin, command)
    elif program == "make":  # MAKE_REASON
        dry = subprocess.run(["make", "-n", *rest], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert dry.returncode == 0, f"{command}\n{dry.stderr}"
    elif program == "python" and rest[:2] == ["-m", "polyforge.docs_reference"]:  # writes under the workspace
        generated = subprocess.run([sys.executable, *rest], capture_output=True, text=True, timeout=300)
        assert generated.returncode == 0 and (Path("docs/reference/cli.md")).is_file(), f"{command}\n{generated.stderr}"
    elif program == "python":  # BENCH_REASON
        check_help_lists([sys.executable, rest[0]], rest[1:], command)
    elif program == "mkdocs":  # MKDOCS_REASON
        path, mkdocs_command, mkdocs_args = command_path(mkdocs_cli, "mkdocs", rest)
        parse(mkdocs_command, path, mkdocs_args)
    elif program == "ray":  # Ray's command line: its options as `ray start --help` lists them
        check_help_lists([str(Path(sys.executable).parent / "ray"), *rest[:1]], rest[1:], command)
    elif program == "curl":
        check_route(rest, command)
    elif program == "source":  # the environment that `make` sets up
        assert rest == [".venv/bin/activate"] and (ROOT / rest[0]).is_file(), f"{command}: not the project's venv"
    else:
        assert program == "vllm", f"{command}: no check for `{program}`; add one to tests/test_docs.py"  # VLLM_REASON


@pytest.mark.parametrize("page", [*GUIDES, ROOT / "README.md"], ids=lambda page: str(page.relative_to(ROOT)))
def test_every_shell_command_of_a_page_runs(page, workspace):
    commands = shell_commands(page)
    if page.name in ("index.md", "architecture.md", "benchmarks.md", "limitations.md"):
        assert not commands, "this page has no commands to check"
        return
    assert commands, f"{page} has no ```bash block: the guides' commands are the ones checked here"
    for command in commands:
        run_shell_command(command)


def test_a_renamed_option_in_a_page_fails_the_check(workspace, tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\npolyforge export runs/demo --out x.jsonl --minimum-score 7\n```\n")
    (command,) = shell_commands(page)
    with pytest.raises(Exception, match="No such option: --minimum-score"):
        run_shell_command(command)


def test_reference_pages_are_generated_from_the_current_code():
    stale = stale_pages(DOCS / "reference")
    assert not stale, f"stale reference pages {stale} in docs/reference: regenerate them with `{REGENERATE}`"


def test_the_site_builds_strictly_with_the_benchmarks_page(tmp_path):
    started = time.monotonic()
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                           capture_output=True, text=True, cwd=ROOT, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr[-4000:]
    benchmarks = (tmp_path / "site" / "benchmarks" / "index.html").read_text(encoding="utf-8")
    first_heading = next(line for line in (ROOT / "BENCHMARKS.md").read_text().splitlines() if line.startswith("## "))
    assert first_heading.removeprefix("## ").split(" (")[0] in benchmarks  # included whole, not a stale copy
    print(f"mkdocs build --strict: {time.monotonic() - started:.1f} s")


def test_every_example_config_loads_and_its_journey_has_a_guide():
    configs = sorted((ROOT / "examples").glob("*.yaml"))
    assert len(configs) >= 5
    site = "\n".join(page.read_text() for page in GUIDES)
    for path in configs:
        load_config(path)
        assert f"examples/{path.name}" in site, f"no page of the site shows examples/{path.name}"
    fleet = load_config(ROOT / "examples" / "server-fleet.yaml")
    assert fleet.workers.executor == "ray" and fleet.database_url.startswith("postgresql")
    assert len(fleet.models.generator.base_urls) == 2 and fleet.judge_model.base_url != fleet.models.generator.base_url
    training = load_config(ROOT / "examples" / "training.yaml").training
    assert training.coarse_steps > 0 and training.adapter == "lora" and training.fim.share > 0
    assert training.evaluation.benchmark == "humaneval"


def test_the_prompt_experiment_overrides_the_answer_prompt_and_the_checklist():
    from polyforge.prompts import PromptLibrary

    experiment = load_config(ROOT / "examples" / "prompt-experiment.yaml")
    library = PromptLibrary(experiment.prompts.folder)
    answer = library.render("answer", language="Go", instruction="Sum a slice.")
    bundled = PromptLibrary(None).render("answer", language="Go", instruction="Sum a slice.")
    assert "edge cases" in answer.messages[0]["content"] and answer.template_hash != bundled.template_hash
    strict, default = load_checklist(experiment.judge.checklist), load_checklist("default")
    assert strict.thresholds.accept > default.thresholds.accept


def test_the_readme_is_a_first_page_that_links_into_the_site():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    assert "make demo" in readme and "make test" in readme
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(links) >= 5
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing, f"README links to missing pages: {missing}"
