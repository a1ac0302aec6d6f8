"""The tester agent: its prompt, and the test code it takes from a reply."""

from __future__ import annotations

import asyncio

import pytest

from doubles import ScriptedBackend
from polyforge.agents import TesterAgent, code_block
from polyforge.agents.language_agent import EmptyOutput
from polyforge.config import StageSampling


def test_code_block_takes_the_first_fenced_block():
    assert code_block("Tests:\n```python\nassert f(1) == 2\n```\nand more\n```\nx\n```") == "assert f(1) == 2"
    assert code_block("```rust\n#[test]\nfn t() {}") == "#[test]\nfn t() {}"  # cut off at max_tokens
    assert code_block("no code here") is None
    assert code_block("```\n\n```") is None


def test_tester_sends_the_task_and_code_and_returns_test_code_only():
    backend = ScriptedBackend(lambda messages, schema: "Here:\n```lua\nassert(add(1, 2) == 3)\n```")
    tests = asyncio.run(TesterAgent(backend, StageSampling()).write_tests(
        "Lua", "Add two numbers.", "function add(a, b) return a + b end", seed=3))
    assert tests.text == "assert(add(1, 2) == 3)" and tests.template == "tester" and tests.template_hash
    system, user = backend.calls[0][0]
    assert "tester" in system["content"] and "Lua" in system["content"]
    assert "Add two numbers." in user["content"] and "function add(a, b)" in user["content"]


def test_an_empty_reply_is_an_error_of_the_stage():
    backend = ScriptedBackend(lambda messages, schema: "   ")
    with pytest.raises(EmptyOutput, match="tester"):
        asyncio.run(TesterAgent(backend, StageSampling()).write_tests("Go", "t", "package main"))
