"""A pool of OpenAI-compatible endpoints serving one model: balanced, health-checked, and patient.

Each request goes to the healthy endpoint with the fewest requests in flight (each endpoint keeps
its own adaptive window, see `concurrency.py`). An endpoint whose calls keep failing for server
reasons is ejected and probed (`GET /models`) until it answers, then re-admitted; a request whose
endpoint failed is sent to another. When every endpoint is down the pool waits for one to come back,
says so through `on_notice`, and after `outage_wait_s` raises `EndpointsDown`, which stops a
campaign cleanly (the same command resumes it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from polyforge.llm.base import ChatBackend, Completion, EndpointsDown, EndpointUnavailable, LLMError, Message, SamplingParams
from polyforge.llm.openai_backend import OpenAICompatibleBackend


@dataclass
class EndpointStats:
    """What one endpoint did for the pool: calls, failures, tokens, time, ejections."""

    base_url: str
    model: str
    role: str
    requests: int = 0  # calls sent (each with its own retries)
    failures: int = 0  # calls that failed, for server reasons or the request's
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # total latency of the calls that succeeded
    ejections: int = 0
    last_error: str | None = None

    @property
    def mean_latency(self) -> float | None:
        succeeded = self.requests - self.failures
        return self.seconds / succeeded if succeeded else None


class _Endpoint:
    def __init__(self, backend: OpenAICompatibleBackend, role: str):
        self.backend = backend
        self.stats = EndpointStats(backend.base_url, backend.name, role)
        self.in_flight = 0
        self.consecutive_failures = 0
        self.down_since: float | None = None  # wall-clock time of the ejection; None: admitted
        self.next_probe = 0.0

    @property
    def healthy(self) -> bool:
        return self.down_since is None


class EndpointPool(ChatBackend):
    """One model behind several base URLs (or one): the backend a campaign role uses."""

    def __init__(self, backends: Sequence[OpenAICompatibleBackend], role: str = "generator", eject_after: int = 3,
                 probe_interval_s: float = 5.0, outage_wait_s: float = 600.0,
                 on_notice: Callable[[str], None] = lambda message: None):
        if not backends:
            raise ValueError("an endpoint pool needs at least one endpoint")
        self.name = backends[0].name
        self.role = role
        self.endpoints = [_Endpoint(backend, role) for backend in backends]
        self.eject_after, self.probe_interval_s, self.outage_wait_s = eject_after, probe_interval_s, outage_wait_s
        self.on_notice = on_notice
        self._outage_since: float | None = None
        self._probing = asyncio.Lock()

    def stats(self) -> list[EndpointStats]:
        return [endpoint.stats for endpoint in self.endpoints]

    async def chat(self, messages: list[Message], params: SamplingParams, json_schema: dict | None = None) -> Completion:
        failed_calls = 0
        while True:
            endpoint = await self._choose()
            endpoint.in_flight += 1
            endpoint.stats.requests += 1
            try:
                completion = await endpoint.backend.chat(messages, params, json_schema)
            except EndpointUnavailable as exc:
                self._failed(endpoint, exc)
                failed_calls += 1
                # Others succeed where this request keeps failing: the request is at fault, not the servers.
                if failed_calls > 2 * len(self.endpoints) and any(e.healthy for e in self.endpoints):
                    raise LLMError(f"{self.role}: the request failed {failed_calls} times on healthy endpoints; "
                                   f"last: {exc}") from exc
                continue
            except LLMError as exc:
                endpoint.stats.failures += 1
                endpoint.stats.last_error = str(exc)
                raise
            finally:
                endpoint.in_flight -= 1
            endpoint.consecutive_failures = 0
            endpoint.stats.prompt_tokens += completion.prompt_tokens
            endpoint.stats.completion_tokens += completion.completion_tokens
            endpoint.stats.seconds += completion.seconds
            return completion

    def _failed(self, endpoint: _Endpoint, exc: Exception) -> None:
        endpoint.stats.failures += 1
        endpoint.stats.last_error = str(exc)
        endpoint.consecutive_failures += 1
        if endpoint.healthy and endpoint.consecutive_failures >= self.eject_after:
            endpoint.down_since = time.time()
            endpoint.next_probe = time.monotonic() + self.probe_interval_s
            endpoint.stats.ejections += 1
            self.on_notice(f"{self.role}: endpoint {endpoint.stats.base_url} ejected after "
                           f"{endpoint.consecutive_failures} failed calls ({exc})")

    async def _choose(self) -> _Endpoint:
        """The admitted endpoint with the fewest requests in flight; while none is, wait for one."""
        while True:
            await self._probe_ejected()
            admitted = [endpoint for endpoint in self.endpoints if endpoint.healthy]
            if admitted:
                if self._outage_since is not None:
                    self.on_notice(f"{self.role}: an endpoint is back after "
                                   f"{time.monotonic() - self._outage_since:.0f} s; going on")
                    self._outage_since = None
                return min(admitted, key=lambda endpoint: endpoint.in_flight)
            now = time.monotonic()
            if self._outage_since is None:
                self._outage_since = now
                since = min(endpoint.down_since for endpoint in self.endpoints)
                self.on_notice(f"{self.role}: every endpoint is down ({self._urls()}) since "
                               f"{datetime.fromtimestamp(since):%H:%M:%S}; waiting up to {self.outage_wait_s:.0f} s "
                               "for one to come back")
            waited = now - self._outage_since
            if waited >= self.outage_wait_s:
                raise EndpointsDown(f"{self.role}: every endpoint ({self._urls()}) was down for {waited:.0f} s; "
                                    "start a server, then run the same command again to resume")
            await asyncio.sleep(min(self.probe_interval_s, self.outage_wait_s - waited))

    async def _probe_ejected(self) -> None:
        """Probe the ejected endpoints whose turn has come; re-admit those that answer."""
        async with self._probing:  # one prober at a time; the others find the result
            now = time.monotonic()
            due = [endpoint for endpoint in self.endpoints if not endpoint.healthy and endpoint.next_probe <= now]
            answers = await asyncio.gather(*(endpoint.backend.probe() for endpoint in due))
            for endpoint, answered in zip(due, answers):
                if answered:
                    endpoint.down_since, endpoint.consecutive_failures = None, 0
                    self.on_notice(f"{self.role}: endpoint {endpoint.stats.base_url} answers again; re-admitted")
                else:
                    endpoint.next_probe = time.monotonic() + self.probe_interval_s

    async def require_reachable(self) -> None:
        """Raise EndpointsDown unless some endpoint answers its health check now: for a command that should fail
        at once, naming the URLs, rather than wait out an outage."""
        answers = await asyncio.gather(*(endpoint.backend.probe() for endpoint in self.endpoints))
        if not any(answers):
            raise EndpointsDown(f"{self.role}: no server answers at {self._urls()} (GET /models failed); start the "
                                "server, or correct the base URL")

    def _urls(self) -> str:
        return ", ".join(endpoint.stats.base_url for endpoint in self.endpoints)

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.backend.aclose()
