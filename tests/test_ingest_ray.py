"""Ingest on Ray (`--executor ray`) on the local two-node test cluster: the same snippets, counts and tables as the
local executor, with exact and near duplicates across shards, nodes and sources; clear errors for a cluster that
cannot be joined."""

import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from polyforge.cli import app
from polyforge.config import IngestConfig, SourceConfig
from polyforge.ingest import IngestError, IngestReport, ray_ingest, stream_snippets
from polyforge.storage import Snippet, database_url, session_scope
from test_corpus_sources import stack_row, write_shards

CHAIN = 12


def variant(step: int) -> str:
    """A function whose first 2 * `step` statements are rewritten: neighbours in the chain are near duplicates,
    distant ones are not, so which of them are kept depends on which earlier ones were."""
    lines = [f"    total_{line} = values[{line}] * {line + 3} + offset - {line * 7}" if line >= 2 * step
             else f"    changed_{line} = scale(values, {line}) // {line + 11} or fallback_{line}"
             for line in range(2 * CHAIN + 4)]
    return "def combine(values, offset):\n" + "\n".join(lines) + "\n    return offset\n"


def near_duplicate_family(folder: Path) -> Path:
    """Files holding the chain's functions in a shuffled order, and exact copies of some of them."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, step in enumerate([3, 0, 7, 1, 5, 2, 11, 4, 9, 6, 10, 8, 0, 5, 9]):
        (folder / f"part_{number:02d}.py").write_text(variant(step))
    return folder


def family_corpus(folder: Path) -> Path:
    """Parquet shards whose rows repeat some of the family's functions (duplicates across sources) beside new ones."""
    rows = [{**stack_row(index, ["MIT"]), **({"content": variant(index)} if index % 2 else {})} for index in range(8)]
    return write_shards(folder, [rows[:3], rows[3:6], rows[6:]])


def run(sources: list, executor: str) -> IngestReport:
    report = IngestReport()
    report.snippets.extend(stream_snippets(sources, IngestConfig(workers=1), report, executor=executor))
    return report


def test_ray_ingest_keeps_the_same_snippets_as_local(ray_cluster, sample_repo, tmp_path, monkeypatch):
    monkeypatch.setattr(ray_ingest, "SHARD_FILES", 2)  # many shards, spread over both nodes
    sources = [str(sample_repo), str(near_duplicate_family(tmp_path / "family")),
               SourceConfig(files=family_corpus(tmp_path / "corpus"))]
    local = run(sources, "local")
    on_ray = run(sources, "ray")

    assert [s.content_hash for s in on_ray.snippets] == [s.content_hash for s in local.snippets]
    assert on_ray.snippets == local.snippets  # the same records: the first of duplicates kept, with its source
    assert on_ray.steps == local.steps
    assert on_ray.languages == local.languages
    assert local.steps["exact dedup"].dropped["exact duplicate"] >= 3
    assert local.steps["near dedup"].dropped["near duplicate"] >= 5
    kept_of_chain = [s for s in local.snippets if s.code.startswith("def combine")]
    assert 2 <= len(kept_of_chain) < CHAIN  # the chain is cut into several kept snippets, not one


def test_ray_ingest_command_stores_the_same_snippets(ray_cluster, tmp_path, db_url):
    """The Ray run stores into SQLite and into PostgreSQL (as a cluster of several nodes would); the local run into
    SQLite."""
    family = str(near_duplicate_family(tmp_path / "family"))
    stored = {}
    for executor, url, extra in (("local", database_url(tmp_path / "local.db"), []),
                                 ("ray", db_url, ["--ray-address", ray_cluster])):
        result = CliRunner().invoke(app, ["ingest", family, "--db", url, "--executor", executor, *extra])
        assert result.exit_code == 0, result.output
        with session_scope(url, create=False) as session:
            stored[executor] = sorted(session.scalars(select(Snippet.content_hash)))
    assert stored["ray"] == stored["local"] and len(stored["local"]) >= 2


@pytest.mark.parametrize(("options", "message"), [
    (["--executor", "ray", "--ray-address", "127.0.0.1:1"], "no Ray cluster answers at 127.0.0.1:1"),
    (["--executor", "ray", "--ray-address", "head-node"], "'head-node' is not a cluster address"),
    (["--ray-address", "127.0.0.1:1"], "--ray-address names the Ray cluster of --executor ray"),
])
def test_a_cluster_that_cannot_be_joined_is_a_message(sample_repo, tmp_path, options, message):
    result = CliRunner().invoke(app, ["ingest", str(sample_repo), "--db", str(tmp_path / "x.db"), *options])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output



def test_a_failing_worker_is_a_message_naming_the_error(ray_cluster):
    import ray

    def failing_step() -> None:  # defined here: Ray ships it by value, the workers cannot import this module
        raise ValueError("the parser ran out of stack")

    with pytest.raises(IngestError, match="a worker failed: ValueError: the parser ran out of stack"):
        ray_ingest.gathered([ray.remote(max_retries=0)(failing_step).remote()])


def test_ray_not_installed_is_a_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    with pytest.raises(IngestError, match=r"needs Ray, which is not installed here: pip install 'polyforge\[ray\]'"):
        ray_ingest.join_cluster(None)
