"""A small fault-injecting HTTP proxy for tests: 429s, 5xx, dropped connections, hangs, garbage bodies.

It sits between a client and a real server on 127.0.0.1. Faults follow a seeded schedule, one
draw per request, after an optional fixed opening (so a short test meets every kind for sure),
and are counted so a test can check each kind really happened.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter

import httpx

FAULTS = ("pass", "429", "503", "drop", "garbage", "hang")


class FaultProxy:
    def __init__(self, upstream: str, rates: dict[str, float], seed: int = 0, hang_s: float = 10.0,
                 opening: tuple[str, ...] = ()):
        """`upstream`: e.g. http://127.0.0.1:8000; `rates`: fault -> probability (the rest passes);
        `opening`: the faults of the first requests, in order, before the seeded draws."""
        unknown = (set(rates) | set(opening)) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {FAULTS}")
        self.upstream = upstream.rstrip("/")
        self.rates = rates
        self.hang_s = hang_s
        self.injected: Counter = Counter()
        self._random = random.Random(seed)
        self._opening = list(opening)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    def _draw(self) -> str:
        if self._opening:
            return self._opening.pop(0)
        roll, edge = self._random.random(), 0.0
        for fault, rate in self.rates.items():
            edge += rate
            if roll < edge:
                return fault
        return "pass"

    async def _forward(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        async with httpx.AsyncClient(timeout=300) as client:
            response = await client.request(method, self.upstream + path, content=body,
                                            headers={"content-type": "application/json"})
            return response.status_code, response.content

    @staticmethod
    def _response(status: int, body: bytes, reason: str = "X") -> bytes:
        head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
                "retry-after: 0\r\n\r\n")
        return head.encode() + body

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one connection carries many requests
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                               if line.lower().startswith("content-length:")), 0)
                body = await reader.readexactly(length)
                fault = self._draw()
                self.injected[fault] += 1
                if fault == "drop":
                    return
                if fault == "hang":
                    await asyncio.sleep(self.hang_s)
                    return
                if fault == "429":
                    writer.write(self._response(429, b'{"error": {"message": "slow down"}}', "Too Many Requests"))
                elif fault == "503":
                    writer.write(self._response(503, b'{"error": {"message": "overloaded"}}', "Service Unavailable"))
                elif fault == "garbage":
                    writer.write(self._response(200, b'{"id": "x", "choices": [', "OK"))
                else:
                    status, content = await self._forward(method, path, body)
                    writer.write(self._response(status, content, "OK"))
                await writer.drain()
        finally:
            writer.close()

    def start(self) -> str:
        """Start listening; returns the proxy's base URL."""
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop)
        self._server = started.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
