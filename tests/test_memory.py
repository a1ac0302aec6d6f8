"""Memory banks: novelty, few-shot retrieval, persistence and rebuild, seeds, and reuse across campaigns."""

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sqlalchemy import select

from doubles import ScriptedBackend, pipeline_script, stage_of, uniform_scores
from polyforge.agents import JudgeAgent, LanguageAgent, StageOutput
from polyforge.config import CampaignConfig, StageSampling
from polyforge.generation.item_graph import build_item_graph, run_item
from polyforge.generation.item_steps import ItemSettings
from polyforge.generation.item_state import WorkItem
from polyforge.generation.campaign import CampaignRunner
from polyforge.memory import MemoryBank, MemoryBankError, shared_embedder
from polyforge.seeds import SeedError, load_seeds
from polyforge.storage import Pair, open_engine, session_factory

TASKS = ["Reverse a string in C.", "Sum a list of integers in Python.", "Parse a JSON document in Go.",
         "Sort an array with quicksort.", "Read a file line by line.", "Check whether a number is prime."]


@pytest.fixture(scope="module")
def embedder():
    return shared_embedder()


def filled_bank(embedder, **settings):
    bank = MemoryBank(embedder, **settings)
    bank.add([bank.new_entry("seed", task) for task in TASKS])
    return bank


def test_a_duplicate_instruction_is_rejected_and_a_novel_one_is_not(embedder, checklist, criteria):
    bank = filled_bank(embedder)
    instructions = iter(["Write a Python function that returns the key with the largest value in a dict.",
                         "Write a Python function that returns the key with the largest value in a dictionary.",
                         "Render a spinning cube with OpenGL shaders."])

    def reply(messages, schema):
        if stage_of(messages) == "instruction":
            return next(instructions)
        return pipeline_script(lambda m: uniform_scores(8, criteria))(messages, schema)

    backend = ScriptedBackend(reply)
    agent = LanguageAgent("Python", backend, StageSampling(), StageSampling(), memory=bank, few_shot=2)
    graph = build_item_graph({"Python": agent}, JudgeAgent(backend, checklist, StageSampling()), ItemSettings(novelty_threshold=0.9))
    item = WorkItem(snippet_id=1, language="Python", path="a.py", code="def total(xs): return sum(xs)", seed=1)
    first, second, third = (asyncio.run(run_item(graph, item)) for _ in range(3))
    assert first.status == "accepted" and first.novelty < 0.9
    assert second.status == "duplicate" and second.novelty >= 0.9 and second.answer is None
    assert third.status == "accepted" and third.novelty < 0.5
    assert len(bank) == len(TASKS) + 2
    # the instructor saw the nearest seeds as few-shot examples
    assert "Sum a list of integers in Python." in backend.calls[0][0][1]["content"]
    # accepted pairs become few-shot material
    assert any(n.entry.kind == "accepted" for n in bank.nearest("OpenGL cube", 1, kinds=("accepted",)))


def test_ivf_bank_finds_what_the_flat_bank_finds_and_survives_save_and_load(embedder, tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((400, embedder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    flat = MemoryBank(embedder, ivf_threshold=10_000)
    ivf = MemoryBank(embedder, ivf_threshold=100, nprobe=64)
    for bank in (flat, ivf):
        bank.add([bank.new_entry("generated", f"task {i}") for i in range(400)], vectors)
    assert flat.index_kind == "flat" and ivf.index_kind == "ivf"
    query = vectors[123]
    assert flat.nearest_vector(query, 1)[0].entry.id == ivf.nearest_vector(query, 1)[0].entry.id == 123

    ivf.save(tmp_path / "bank", {"pairs": 7})
    loaded, meta = MemoryBank.load(tmp_path / "bank", embedder, nprobe=64)
    assert meta["fingerprint"] == {"pairs": 7} and len(loaded) == 400 and loaded.index_kind == "ivf"
    assert loaded.nearest_vector(query, 1)[0].entry.instruction == "task 123"
    (tmp_path / "bank" / "entries.jsonl").write_text("")
    with pytest.raises(MemoryBankError, match="stale"):
        MemoryBank.load(tmp_path / "bank", embedder)


def test_seeds_load_from_jsonl_parquet_and_hf_folders(tmp_path):
    starter = load_seeds()
    languages = {s.language for s in starter}
    assert {"Python", "JavaScript", "Java", "C", "C++", "Go", "Rust", "TypeScript", "C#", "PHP"} <= languages
    assert all(sum(s.language == lang for s in starter) >= 3 for lang in languages)

    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset

    rows = [s.model_dump() for s in starter[:4]]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "seeds.parquet")
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    assert [s.instruction for s in load_seeds(tmp_path / "seeds.parquet")] == [r["instruction"] for r in rows]
    assert len(load_seeds(tmp_path / "hf")) == 4

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"language": "Go", "instruction": "x"}) + "\n")
    with pytest.raises(SeedError, match="record 1.*output"):
        load_seeds(bad)
    with pytest.raises(SeedError, match="not found"):
        load_seeds("no-such-seeds")


def test_a_second_campaign_reuses_the_banks_and_rejects_more(sample_repo, tmp_path, criteria):
    """The same config again as a new campaign (same output folder): the banks load and catch the repeats."""
    def reply(messages, schema):
        if stage_of(messages) == "instruction":
            code_line = messages[1]["content"].split("```")[1].splitlines()[1]
            return f"Write code equivalent to: {code_line}"
        return pipeline_script(lambda m: uniform_scores(8, criteria))(messages, schema)

    def run(name, new_campaign=False):
        config = CampaignConfig.model_validate({
            "name": name, "output_dir": str(tmp_path), "sources": [{"path": str(sample_repo)}],
            "languages": ["Python", "Go"], "budgets": {"max_pairs": 6}, "concurrency": 2,
            # The sample's Fibonacci and is_palindrome tasks paraphrase HumanEval/55 and /48: contaminated, never
            # remembered, so not the duplicates this test counts.
            "ingest": {"paraphrase_threshold": 1},
        })
        backend = ScriptedBackend(reply)
        return asyncio.run(CampaignRunner(config, backends=(backend, backend), new_campaign=new_campaign).run())

    first = run("first")
    resumed = run("first")  # the same config resumes its campaign, which has nothing left to do
    assert resumed.campaign_id == first.campaign_id and resumed.new_pairs == 0
    second = run("first", new_campaign=True)
    assert second.campaign_id != first.campaign_id and second.new_pairs == 6
    assert {m.origin for m in first.memory.values()} == {"new"}
    assert {m.origin for m in second.memory.values()} == {"loaded"}
    assert sum(second.duplicates.values()) > sum(first.duplicates.values())
    assert sum(second.duplicates.values()) == 6  # every instruction was seen before
    assert (tmp_path / "memory" / "python" / "index.faiss").is_file()

    # a crash that loses the saved bank: the next run rebuilds it from the database
    (tmp_path / "memory" / "go" / "meta.json").unlink()
    third = run("third")
    assert third.memory["Go"].origin.startswith("rebuilt") and third.duplicates.get("Go") == 3
    engine = open_engine(f"sqlite:///{tmp_path / 'polyforge.db'}")
    with session_factory(engine)() as session:
        assert len(session.scalars(select(Pair).where(Pair.status == "duplicate")).all()) == 12


class _AxisEmbedder:
    """A stand-in for the embedder: every text lands near the first axis, so all are near duplicates."""

    dimension = 8

    def encode(self, texts):
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        vectors[:, 0] = 1.0
        vectors[:, 1] = [0.001 * (len(text) % 7) for text in texts]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class _SlowSearchBank(MemoryBank):
    """A bank whose searches take a while (a large IVF index, a busy GPU): the window in which another
    thread can search before the first one has added."""

    def nearest_vector(self, vector, k=4, kinds=None):
        found = super().nearest_vector(vector, k, kinds)
        time.sleep(0.05)
        return found


def test_near_duplicates_in_flight_together_are_admitted_once(checklist):
    """Items run check_novelty on executor threads. Searching and then adding without one lock let every
    one of these near duplicates pass (each searched before any had added: the test fails that way);
    `MemoryBank.admit` checks and adds atomically, so exactly one gets in and ids stay unique."""
    from polyforge.generation.item_steps import ItemSteps
    from polyforge.generation.item_state import ItemState

    bank = _SlowSearchBank(_AxisEmbedder())
    backend = ScriptedBackend(lambda messages, schema: "")
    agent = LanguageAgent("Python", backend, StageSampling(), StageSampling(), memory=bank)
    steps = ItemSteps({"Python": agent}, JudgeAgent(backend, checklist, StageSampling()),
                      ItemSettings(novelty_threshold=0.9))

    def check(number: int) -> dict:
        item = WorkItem(snippet_id=number, language="Python", path="a.py", code="pass", seed=number)
        instruction = StageOutput(f"Sum a list of integers (variant {number}).", "instruction", "h", [])
        return steps.check_novelty(ItemState(item=item, instruction=instruction))

    with ThreadPoolExecutor(max_workers=8) as pool:
        updates = list(pool.map(check, range(8)))
    admitted = [update for update in updates if "memory_id" in update]
    assert len(admitted) == 1 and len(bank) == 1
    assert sum(update.get("status") == "duplicate" for update in updates) == 7
    ids = [bank.new_entry("generated", f"x{i}").id for i in range(3)]
    assert admitted[0]["memory_id"] not in ids and len(set(ids)) == 3
