"""The peer benches' snippets: McEval reference programs of six languages, taken in turn, keeping only programs that
Polyforge's ingest cuts into exactly one snippet, written to a scratch folder for the duration of a bench."""

from __future__ import annotations

import argparse
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from polyforge.config import IngestConfig
from polyforge.ingest import stream_snippets
from polyforge.ingest.pipeline import SnippetRecord
from polyforge.sandbox.mceval import McEvalError, Task, bundled_mceval, load_tasks

# McEval file stems through the loader's names, and the extension Polyforge's ingest identifies each by.
PEER_LANGUAGES = {"Python": ".py", "JavaScript": ".js", "C": ".c", "C++": ".cpp", "Go": ".go", "Rust": ".rs"}
# The snippets are McEval's own programs: the campaign must not drop them (or their pairs) as contaminated.
SOURCE_INGEST = {"decontaminate_mceval": False}
CANDIDATES_PER_LANGUAGE = 25  # programs read per language to find enough that ingest keeps as one snippet


@dataclass(frozen=True)
class PeerSnippet:
    file_name: str
    program: str  # the file Polyforge ingests
    snippet: SnippetRecord  # what ingest cuts from it: the code both tools are given


def peer_snippets(mceval: Path, count: int, scratch: Path) -> list[PeerSnippet]:
    """`count` McEval programs, the six languages in turn, each one that ingest keeps as exactly one snippet."""
    tasks = load_tasks(mceval, list(PEER_LANGUAGES), CANDIDATES_PER_LANGUAGE)
    scratch.mkdir(parents=True)
    programs: dict[str, tuple[Task, str]] = {}
    for task in tasks:
        name = re.sub(r"\W", "_", task.task_id) + PEER_LANGUAGES[task.language]
        (scratch / name).write_text(task.program)
        programs[name] = (task, task.program)
    cut: dict[str, list[SnippetRecord]] = defaultdict(list)
    for record in stream_snippets([scratch], IngestConfig(**SOURCE_INGEST)):
        cut[Path(record.path).name].append(record)
    by_language: dict[str, list[PeerSnippet]] = defaultdict(list)
    for name, (task, program) in programs.items():
        if len(cut.get(name, [])) == 1:
            by_language[task.language].append(PeerSnippet(name, program, cut[name][0]))
    chosen: list[PeerSnippet] = []
    for index in range(count):
        language = list(PEER_LANGUAGES)[index % len(PEER_LANGUAGES)]
        rank = index // len(PEER_LANGUAGES)
        if rank >= len(by_language[language]):
            raise SystemExit(f"error: only {len(by_language[language])} {language} programs of the first "
                             f"{CANDIDATES_PER_LANGUAGE} in {mceval} are one snippet each; ask for fewer --snippets")
        chosen.append(by_language[language][rank])
    return chosen


def write_sources(folder: Path, snippets: list[PeerSnippet]) -> None:
    folder.mkdir(parents=True)
    for item in snippets:
        (folder / item.file_name).write_text(item.program)


def add_workspace_options(parser: argparse.ArgumentParser) -> None:
    """The options every bench on peer snippets shares: where McEval is, which vLLM, and a folder to keep."""
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it (databases, server logs)")
    parser.add_argument("--mceval", type=Path, default=bundled_mceval(),
                        help="McEval's data folder (its LANGUAGE.jsonl files; default: the bundled copy)")
    parser.add_argument("--vllm-python", help="the interpreter with vLLM (default: as `polyforge serve vllm`)")


@contextmanager
def peer_workspace(prefix: str, mceval: Path, count: int,
                   keep: Path | None = None) -> Iterator[tuple[Path, list[PeerSnippet]]]:
    """A scratch folder with `count` peer snippets' programs written to its `sources` folder, for the duration;
    with `keep` (a folder that must not exist yet) the work is done there and stays, databases and logs included."""
    if keep is not None and keep.exists():
        raise SystemExit(f"error: --keep: {keep} already exists; name a new folder")
    with nullcontext(str(keep)) if keep is not None else tempfile.TemporaryDirectory(prefix=prefix) as folder:
        work = Path(folder)
        try:
            snippets = peer_snippets(mceval, count, work / "candidates")
        except McEvalError as exc:
            raise SystemExit(f"error: --mceval: {exc}") from exc
        write_sources(work / "sources", snippets)
        yield work, snippets

