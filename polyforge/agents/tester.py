"""The tester agent: writes unit tests for a task, in the task's language, from the task itself.

The tests are written from the instruction and the language's conventions, never from one candidate's
code, so that they favour no candidate; the tester may be told the signatures every candidate shares
(`test_evidence.shared_interface`). A reply that is prose, not code, is the tester's failure, and so are tests
cut off by the token budget mid-statement (run, they would charge their own compile error to every answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from polyforge.agents.judge_rules import parses_cleanly, syntax_tree
from polyforge.agents.test_evidence import asserts
from polyforge.agents.language_agent import EmptyOutput, StageOutput, sampling_params
from polyforge.config import StageSampling
from polyforge.languages import grammar_names
from polyforge.llm import ChatBackend
from polyforge.prompts import BUNDLED, PromptLibrary

FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)


def code_block(text: str) -> str | None:
    """The first fenced code block of a reply (an unclosed one runs to the end), or None."""
    found = FENCE.search(text)
    if found is None:
        return None
    code = found.group(1).strip("\n")
    return code if code.strip() else None


class ProseReply(EmptyOutput):
    """The tester answered in words where test code was asked for."""


class CutOffTests(EmptyOutput):
    """The tester's reply hit its max_tokens before the tests were complete."""


class TesterAgent:
    def __init__(self, backend: ChatBackend, sampling: StageSampling, prompts: PromptLibrary = BUNDLED,
                 grammars: Mapping[str, str] | None = None):
        """`grammars` maps a language name to its tree-sitter grammar (default: the language table's), to tell
        a reply without a code block that is code from one that is prose."""
        self.backend = backend
        self.prompts = prompts
        self.grammars = dict(grammar_names() if grammars is None else grammars)
        self._sampling = sampling

    async def write_tests(self, language: str, instruction: str, seed: int | None = None,
                          interface: Sequence[str] = ()) -> StageOutput:
        """Test code for the task `instruction` (its text is the code only). `interface`: the function signatures
        every candidate answer shares, if any.

        A reply without a fenced block counts as code when it parses with the language's grammar (languages
        without one: always); otherwise it is prose, and `ProseReply` says so. A reply cut off by max_tokens
        is kept where it still parses, or else its top-level constructs before the cut when they parse and hold an
        assertion (a language without a grammar: never); else `CutOffTests`.
        """
        prompt = self.prompts.render("tester", language=language, instruction=instruction, interface=list(interface))
        completion = await self.backend.chat(prompt.messages, sampling_params(self._sampling, seed))
        tests = code_block(completion.text)
        grammar = self.grammars.get(language)
        if tests is None:
            tests = completion.text.strip()
            if tests and grammar is not None and not parses_cleanly(tests, grammar):
                raise ProseReply("reply is prose, not code")
        if not tests:
            raise EmptyOutput(f"tester: the model returned no test code (finish: {completion.finish_reason})")
        if completion.truncated and grammar is not None and not parses_cleanly(tests, grammar):
            tests = complete_prefix(tests, grammar)  # the statements written whole before the cut still test
            tests = tests if tests is not None and asserts(language, tests) else None
        if completion.truncated and (grammar is None or tests is None):
            raise CutOffTests(f"tests cut off at {self._sampling.max_tokens} tokens before they were complete "
                              "(raise sampling.tester.max_tokens)")
        return StageOutput(tests, "tester", prompt.template_hash, [completion])


def complete_prefix(code: str, grammar: str) -> str | None:
    """The top-level constructs of `code` before the first one with a syntax error, when they parse on their own
    and hold code: what a reply cut off by max_tokens holds complete (Python's top-level asserts, a finished test
    function); None when nothing before the cut is whole."""
    root = syntax_tree(code, grammar)
    end = None
    for child in root.children:
        if child.has_error or child.is_missing:
            break
        end = child.end_byte
    if end is None:
        return None
    prefix = code.encode("utf-8")[:end].decode("utf-8", "replace")
    return prefix if parses_cleanly(prefix, grammar) else None
