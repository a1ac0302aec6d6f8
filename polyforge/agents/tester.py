"""The tester agent: writes unit tests for an instruction-answer pair, in the pair's language."""

from __future__ import annotations

import re

from polyforge.agents.language_agent import EmptyOutput, StageOutput, sampling_params
from polyforge.config import StageSampling
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


class TesterAgent:
    def __init__(self, backend: ChatBackend, sampling: StageSampling, prompts: PromptLibrary = BUNDLED):
        self.backend = backend
        self.prompts = prompts
        self._sampling = sampling

    async def write_tests(self, language: str, instruction: str, code: str, seed: int | None = None) -> StageOutput:
        """Test code for `code` (the answer's code block); its text is the code only."""
        prompt = self.prompts.render("tester", language=language, instruction=instruction, code=code)
        completion = await self.backend.chat(prompt.messages, sampling_params(self._sampling, seed))
        tests = code_block(completion.text) or completion.text.strip()
        if not tests:
            raise EmptyOutput(f"tester: the model returned no test code (finish: {completion.finish_reason})")
        return StageOutput(tests, "tester", prompt.template_hash, [completion])
