"""Simulated OpenAI-compatible endpoints, for measuring the campaign coordinator (not a test double:
it checks nothing and its replies mean nothing; they are only valid enough to flow through a campaign).

Every endpoint answers `POST /v1/chat/completions` after a fixed latency: with a JSON schema in
`response_format`, an object valid for it (integers within their bounds, enum values, required
properties), otherwise a short text with a fenced code block; and `GET /v1/models`. All endpoints
live in one process, one listening port each, served by one uvicorn server.

Usage: python bench/endpoint_simulator.py --endpoints 16 --latency-ms 500
Once listening it prints one JSON line, {"ports": [...]}, and serves until it is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import socket
import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODEL = "simulated"


def instance_of(schema: dict, root: dict, draw: random.Random) -> object:
    """A value valid for `schema` (the subset pydantic emits: $ref, anyOf, enum, const, objects, arrays,
    bounded numbers, strings); `root` holds the $defs that references point into."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return instance_of(root["$defs"][name], root, draw)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return draw.choice(schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [option for option in schema[key] if option.get("type") != "null"] or schema[key]
            return instance_of(options[0], root, draw)
    kind = schema.get("type", "object")
    if kind == "object":
        return {name: instance_of(value, root, draw) for name, value in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance_of(schema.get("items", {}), root, draw) for _ in range(max(schema.get("minItems", 1), 1))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 11) - 1)
        return draw.randint(int(low), int(high))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = "a simulated reply"
    return text[: schema.get("maxLength", len(text))].ljust(schema.get("minLength", 0), "x")


def requested_schema(body: dict) -> dict | None:
    """The JSON schema of `response_format`, in the OpenAI `json_schema` form or llama-cpp's `json_object` form."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return response_format.get("json_schema", {}).get("schema")
    return response_format.get("schema")


def text_reply(number: int) -> str:
    return (f"Write a function `total_{number}` that returns the sum of a list of integers.\n\n"
            f"```python\ndef total_{number}(values):\n    return sum(values) + {number}\n```\n")


def simulator_app(latency_s: float, seed: int = 0) -> Starlette:
    draw = random.Random(seed)
    numbers = itertools.count(1)

    async def completions(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            return JSONResponse({"error": {"message": f"the body is not JSON: {exc}"}}, status_code=400)
        await asyncio.sleep(latency_s)
        number = next(numbers)
        schema = requested_schema(body)
        content = json.dumps(instance_of(schema, schema, draw)) if schema else text_reply(number)
        prompt_tokens = sum(len(str(message.get("content", ""))) for message in body.get("messages", [])) // 4
        completion_tokens = len(content) // 4
        return JSONResponse({
            "id": f"sim-{number}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", MODEL),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "simulator"}]})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]),
                             Route("/v1/models", models, methods=["GET"])])


def listening_sockets(count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without it
        # Nagle's algorithm holds each reply's body for the client's delayed ACK (about 40 ms a request).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)  # listening before the ports are announced: early clients wait in the backlog
        sockets.append(listener)
    return sockets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1, help="how many endpoints (one port each)")
    parser.add_argument("--latency-ms", type=float, default=500.0, help="how long each completion takes")
    args = parser.parse_args()
    if args.endpoints < 1 or args.latency_ms < 0:
        parser.error("--endpoints must be at least 1 and --latency-ms at least 0")
    sockets = listening_sockets(args.endpoints)
    config = uvicorn.Config(simulator_app(args.latency_ms / 1000), log_level="warning", access_log=False,
                            lifespan="off", backlog=4096)
    server = uvicorn.Server(config)
    print(json.dumps({"ports": [listener.getsockname()[1] for listener in sockets]}), flush=True)
    try:
        asyncio.run(server.serve(sockets=sockets))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
