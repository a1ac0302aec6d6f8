"""A campaign through a fault-injecting proxy in front of a real server completes and accounts for every item."""

import asyncio

import pytest
from sqlalchemy import select

from fault_proxy import FAULTS, FaultProxy
from polyforge.config import CampaignConfig
from polyforge.generation.campaign import CampaignRunner
from polyforge.llm.concurrency import AdaptiveLimiter
from polyforge.llm.openai_backend import OpenAICompatibleBackend
from polyforge.llm.pool import EndpointPool
from polyforge.storage import Pair, open_engine, session_factory

pytestmark = pytest.mark.slow
RATES = {"429": 0.1, "503": 0.06, "drop": 0.05, "garbage": 0.05}
# Every kind of fault once among the first calls, whatever the seeded draws bring later; a hang costs a timeout.
OPENING = ("429", "pass", "503", "pass", "drop", "pass", "garbage", "pass", "hang")


def test_campaign_survives_a_faulty_endpoint(llama_server_url, sample_repo, tmp_path, db_url):
    proxy = FaultProxy(llama_server_url.removesuffix("/v1"), RATES, seed=4, hang_s=25, opening=OPENING)
    base = proxy.start()
    try:
        # The timeout is well above a call's time on a busy machine: a call given up on keeps the one-slot server
        # busy, and a short timeout would snowball into more of them.
        endpoint = OpenAICompatibleBackend(f"{base}/v1", "smollm2", response_format="json_object", timeout_s=20,
                                           max_attempts=6, max_concurrency=3, retry_initial_s=0.05)
        # A call that fails every attempt ejects the endpoint; it is probed and re-admitted, never charged
        # to the work item.
        backend = EndpointPool([endpoint], eject_after=1, probe_interval_s=0.2, outage_wait_s=120)
        config = CampaignConfig.model_validate({
            "name": "faults", "output_dir": str(tmp_path), "database_url": db_url,
            "sources": [{"path": str(sample_repo)}], "languages": ["Python", "C"],
            "budgets": {"max_pairs": 4}, "concurrency": 3,
            # Every item goes through every stage, so the seeded fault schedule meets every kind of fault.
            "generation": {"gates": {"restated_snippet": False, "refusal": False, "code_block": False,
                                     "failed_tests": False}},
            "sampling": {"seed": 2, "instruction": {"max_tokens": 32}, "answer": {"max_tokens": 40},
                         "tester": {"max_tokens": 48}, "judge": {"max_tokens": 120, "temperature": 0}},
        })
        result = asyncio.run(CampaignRunner(config, backends=(backend, backend)).run())
    finally:
        proxy.stop()

    assert result.new_pairs == 4
    assert all(proxy.injected[fault] >= 1 for fault in FAULTS), proxy.injected
    assert endpoint.limiter.pressure_events >= 1 and endpoint.limiter.lowest < 3  # it backed off
    engine = open_engine(db_url, create=False)
    with session_factory(engine)() as session:
        pairs = session.scalars(select(Pair)).all()
        assert len(pairs) == 4 and len({p.snippet_id for p in pairs}) == 4
        for pair in pairs:
            assert pair.status in {"accepted", "flagged", "rejected", "duplicate", "failed"}
            if pair.status == "failed":
                assert "attempt(s)" in pair.error  # why it failed is recorded with the item
            elif pair.status != "duplicate":
                assert pair.instruction and pair.answer
    engine.dispose()


def test_limiter_halves_on_pressure_and_regrows():
    limiter = AdaptiveLimiter(8)
    limiter.pressure()
    limiter.pressure()
    assert limiter.limit == 2 and limiter.lowest == 2
    for _ in range(40):
        limiter.relief()
    assert limiter.limit == 8


def test_limiter_caps_requests_in_flight():
    limiter = AdaptiveLimiter(4)
    limiter.pressure()  # window 2
    peak = 0

    async def request():
        nonlocal peak
        async with limiter:
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0.01)

    async def main():
        await asyncio.gather(*(request() for _ in range(10)))

    asyncio.run(main())
    assert peak == 2 and limiter.in_flight == 0
