"""Cheap gates: checks that drop an instruction or an answer before expensive stages spend tokens on it.

Each gate returns why it drops (a reason stored with the pair, `gate: ...`) or None. They read text
only: no model call, no sandbox run.
"""

from __future__ import annotations

import re

from polyforge.agents.judge_rules import fenced_blocks, parses_cleanly
from polyforge.languages import language_by_name
from polyforge.redaction import redact, shared_scanner, summary
from polyforge.terms import SENSITIVE

# Openings of a reply that declines the task (checked only when the reply holds no code).
REFUSAL = re.compile(r"^\W*(i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i am unable|i'?m unable|as an ai\b|"
                     r"unfortunately,? i)", re.IGNORECASE)
RESTATED_SHARE = 0.5  # an instruction holding this share of the snippet's code lines restates it
MIN_RESTATED_LINES = 3
MIN_LINE_CHARS = 8  # shorter lines ("}", "end", "return x") say nothing about copying


def answer_gate(answer: str, language: str, grammar: str | None, code_block: bool = True,
                refusal: bool = True) -> str | None:
    """Why an answer is not worth testing or judging: empty, a refusal, or no code block in its language
    (none at all, only blocks tagged with another language, or none that parses with the grammar)."""
    if not answer.strip():
        return "empty answer"
    blocks = fenced_blocks(answer)
    if refusal and not blocks and REFUSAL.search(answer):
        return "refusal"
    if not code_block:
        return None
    if not blocks:
        return f"no {language} code block"
    wanted = language_by_name(language)
    ours = [code for tag, code in blocks if not tag or language_by_name(tag) in (None, wanted)]
    if not ours:
        tags = sorted({tag for tag, _ in blocks})
        return f"no {language} code block (found {', '.join(tags)})"
    if grammar is not None and not any(parses_cleanly(code, grammar) for code in ours):
        return f"no {language} code block that parses"
    return None


def _code_lines(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if len(line.strip()) >= MIN_LINE_CHARS]


def instruction_gate(instruction: str, snippet: str) -> str | None:
    """Why an instruction is not a task: it restates the snippet's code instead of asking for it."""
    lines = _code_lines(snippet)
    if len(lines) < MIN_RESTATED_LINES:
        return None
    restated = sum(line in instruction for line in lines)
    if restated >= MIN_RESTATED_LINES and restated >= RESTATED_SHARE * len(lines):
        return f"instruction restates the snippet ({restated} of {len(lines)} code lines)"
    return None


def sensitive_gate(text: str, what: str) -> tuple[str, str | None]:
    """`text` with its secrets and personal data redacted (as ingest redacts them), and why the text is dropped,
    naming `what` it is and the kinds found (None: nothing found, the text unchanged)."""
    findings = shared_scanner().find(text)
    if not findings:
        return text, None
    return redact(text, findings), f"{SENSITIVE}{what} ({summary(findings)})"
