"""The tester agent: its prompt, and the test code it takes from a reply."""

from __future__ import annotations

import asyncio

import pytest

from doubles import ScriptedBackend
from polyforge.agents import TesterAgent, code_block
from polyforge.agents.language_agent import EmptyOutput
from polyforge.agents.tester import CutOffTests, ProseReply
from polyforge.config import StageSampling
from polyforge.llm import Completion


def test_code_block_takes_the_first_fenced_block():
    assert code_block("Tests:\n```python\nassert f(1) == 2\n```\nand more\n```\nx\n```") == "assert f(1) == 2"
    assert code_block("```rust\n#[test]\nfn t() {}") == "#[test]\nfn t() {}"  # cut off at max_tokens
    assert code_block("no code here") is None
    assert code_block("```\n\n```") is None


def test_tester_writes_from_the_task_and_language_and_returns_test_code_only():
    backend = ScriptedBackend(lambda messages, schema: "Here:\n```lua\nassert(add(1, 2) == 3)\n```")
    tests = asyncio.run(TesterAgent(backend, StageSampling()).write_tests("Lua", "Add two numbers.", seed=3))
    assert tests.text == "assert(add(1, 2) == 3)" and tests.template == "tester" and tests.template_hash
    system, user = backend.calls[0][0]
    assert "tester" in system["content"] and "Lua" in system["content"]
    assert "Add two numbers." in user["content"] and "defines" not in user["content"]


def test_the_tester_is_told_the_shared_interface_only():
    backend = ScriptedBackend(lambda messages, schema: "```python\nassert add(1, 2) == 3\n```")
    asyncio.run(TesterAgent(backend, StageSampling()).write_tests(
        "Python", "Add two numbers.", interface=["def add(a, b):"]))
    user = backend.calls[0][0][1]["content"]
    assert "The solution defines:\n```python\ndef add(a, b):\n```" in user


def test_an_empty_reply_is_an_error_of_the_stage():
    backend = ScriptedBackend(lambda messages, schema: "   ")
    with pytest.raises(EmptyOutput, match="tester"):
        asyncio.run(TesterAgent(backend, StageSampling()).write_tests("Go", "t"))


def test_a_prose_reply_is_the_testers_failure_not_test_code():
    """Without a fenced block the whole reply used to become the tests, so prose ran as code and every answer
    was charged a compile error; now tree-sitter decides: prose is `ProseReply`, bare code is taken."""
    prose = ScriptedBackend(lambda messages, schema: "I would check that add returns the sum of its two arguments.")
    with pytest.raises(ProseReply, match="reply is prose, not code"):
        asyncio.run(TesterAgent(prose, StageSampling()).write_tests("Python", "Add two numbers."))
    bare = ScriptedBackend(lambda messages, schema: "assert add(1, 2) == 3\nassert add(0, 0) == 0\n")
    tests = asyncio.run(TesterAgent(bare, StageSampling()).write_tests("Python", "Add two numbers."))
    assert tests.text == "assert add(1, 2) == 3\nassert add(0, 0) == 0"
    # a language without a grammar cannot tell prose: the reply is taken as it is
    assert asyncio.run(TesterAgent(prose, StageSampling(), grammars={}).write_tests("Python", "t")).text


def cut_off(text: str) -> ScriptedBackend:
    return ScriptedBackend(lambda messages, schema: Completion(text=text, model="scripted-double", prompt_tokens=10,
                                                              completion_tokens=256, finish_reason="length"))


def test_tests_cut_off_mid_statement_are_the_testers_failure():
    """Tests cut off by max_tokens used to run as they were, and their own compile error was charged to every
    answer; now they are the tester's failure, unless what came back still parses."""
    rust = "```rust\n#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn close() {\n        assert!(!close(vec![1.0, 2."
    with pytest.raises(CutOffTests, match="cut off at 256 tokens .*raise sampling.tester.max_tokens"):
        asyncio.run(TesterAgent(cut_off(rust), StageSampling(max_tokens=256)).write_tests("Rust", "t"))
    with pytest.raises(CutOffTests):  # no grammar to tell whether they are complete
        asyncio.run(TesterAgent(cut_off("assert add(1, 2) == 3\n"), StageSampling(), grammars={}).write_tests(
            "Python", "t"))
    whole_lines = "```python\nassert add(1, 2) == 3\nassert add(0, 0) == 0\n"
    tests = asyncio.run(TesterAgent(cut_off(whole_lines), StageSampling()).write_tests("Python", "t"))
    assert tests.text == "assert add(1, 2) == 3\nassert add(0, 0) == 0"


def test_tests_cut_off_keep_the_assertions_written_whole_before_the_cut():
    """A small model's tests often run past max_tokens mid-assert: the asserts before the cut still test."""
    python = "```python\nimport math\n\nassert area(1) == math.pi\nassert area(0) == 0\nassert area([1, 2"
    tests = asyncio.run(TesterAgent(cut_off(python), StageSampling(max_tokens=256)).write_tests("Python", "t"))
    assert tests.text == "import math\n\nassert area(1) == math.pi\nassert area(0) == 0"
    # what came whole before the cut holds no assertion (a Go test function cut inside): no tests, as before
    go = "```go\npackage main\n\nimport \"testing\"\n\nfunc TestArea(t *testing.T) {\n\tif area(1) != 3.14"
    with pytest.raises(CutOffTests):
        asyncio.run(TesterAgent(cut_off(go), StageSampling(max_tokens=256)).write_tests("Go", "t"))
