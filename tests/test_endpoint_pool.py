"""The endpoint pool's policy, against endpoint doubles: least in flight, ejection, probing and
re-admission, outages, and requests that fail on their own. (Real servers: test_fleet.py.)"""

import asyncio

import pytest

from polyforge.llm import Completion, EndpointsDown, EndpointUnavailable, LLMError, SamplingParams
from polyforge.llm.pool import EndpointPool


class EndpointDouble:
    """A test double for one OpenAI-compatible endpoint: `up` decides whether it answers."""

    def __init__(self, base_url: str, delay_s: float = 0.0):
        self.base_url, self.name = base_url, "model-double"
        self.up, self.delay_s = True, delay_s
        self.calls = 0
        self.refuse_request: str | None = None  # a prompt this endpoint fails with a server error, up or not

    async def chat(self, messages, params, json_schema=None) -> Completion:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if not self.up or messages[0]["content"] == self.refuse_request:
            raise EndpointUnavailable(f"{self.base_url}: connection refused")
        if messages[0]["content"] == "too long":
            raise LLMError(f"{self.base_url}: 400 prompt over the context")
        return Completion(text=f"from {self.base_url}", model=self.name, prompt_tokens=3, completion_tokens=2,
                          seconds=0.01)

    async def probe(self) -> bool:
        return self.up

    async def aclose(self) -> None:
        pass


def ask(pool, content="hi"):
    return pool.chat([{"role": "user", "content": content}], SamplingParams())


def test_requests_spread_to_the_endpoint_with_fewest_in_flight():
    a, b = EndpointDouble("http://a/v1", delay_s=0.05), EndpointDouble("http://b/v1", delay_s=0.05)
    pool = EndpointPool([a, b])

    async def burst():
        return await asyncio.gather(*(ask(pool) for _ in range(10)))

    replies = asyncio.run(burst())
    assert (a.calls, b.calls) == (5, 5) and len(replies) == 10
    by_url = {stats.base_url: stats for stats in pool.stats()}
    assert by_url["http://a/v1"].requests == 5 and by_url["http://a/v1"].completion_tokens == 10
    assert by_url["http://b/v1"].failures == 0 and by_url["http://b/v1"].mean_latency == pytest.approx(0.01)


def test_a_dead_endpoint_is_ejected_its_requests_go_elsewhere_and_it_comes_back():
    a, b = EndpointDouble("http://a/v1"), EndpointDouble("http://b/v1")
    notices = []
    pool = EndpointPool([a, b], eject_after=2, probe_interval_s=0.05, on_notice=notices.append)
    a.up = False

    async def scenario():
        replies = [await ask(pool) for _ in range(6)]
        a.up = True
        await asyncio.sleep(0.06)  # the next probe is due
        replies.append(await ask(pool))
        return replies

    replies = asyncio.run(scenario())
    assert all(reply.text for reply in replies)  # nothing was lost to the dead endpoint
    stats = {s.base_url: s for s in pool.stats()}
    assert stats["http://a/v1"].ejections == 1 and stats["http://a/v1"].failures == 2
    assert "connection refused" in stats["http://a/v1"].last_error
    assert any("http://a/v1 ejected" in n for n in notices) and any("http://a/v1 answers again" in n for n in notices)
    assert a.calls == 3  # two failures, then (re-admitted, least busy) the last request


def test_when_every_endpoint_is_down_the_pool_waits_then_goes_on():
    a = EndpointDouble("http://a/v1")
    notices = []
    pool = EndpointPool([a], eject_after=1, probe_interval_s=0.05, outage_wait_s=5, on_notice=notices.append)
    a.up = False

    async def scenario():
        asyncio.get_running_loop().call_later(0.3, setattr, a, "up", True)  # the server is restarted
        return await ask(pool)

    assert asyncio.run(scenario()).text == "from http://a/v1"
    assert any("every endpoint is down (http://a/v1)" in n for n in notices)
    assert any("back after" in n for n in notices)


def test_an_outage_longer_than_the_wait_raises_endpoints_down():
    a, b = EndpointDouble("http://a/v1"), EndpointDouble("http://b/v1")
    a.up = b.up = False
    pool = EndpointPool([a, b], eject_after=1, probe_interval_s=0.05, outage_wait_s=0.2)
    with pytest.raises(EndpointsDown, match=r"every endpoint \(http://a/v1, http://b/v1\) was down"):
        asyncio.run(ask(pool))
    assert not isinstance(EndpointsDown("x"), LLMError)  # never recorded against a work item


def test_the_requests_own_failures_are_the_items():
    a, b = EndpointDouble("http://a/v1"), EndpointDouble("http://b/v1")
    pool = EndpointPool([a, b], eject_after=100)
    with pytest.raises(LLMError, match="400 prompt over the context"):
        asyncio.run(ask(pool, "too long"))
    a.refuse_request = b.refuse_request = "poison"  # a request servers answer with 5xx while others pass
    with pytest.raises(LLMError, match="failed 5 times on healthy endpoints"):
        asyncio.run(ask(pool, "poison"))
    assert asyncio.run(ask(pool)).text.startswith("from")
