"""Deterministic rules that replace the judge's score where the facts are known.

A checklist criterion names its rule with `override`: 'parser' (does the answer hold code that
parses in its language?) or 'sandbox' (did the executed answer pass?). A rule that cannot decide
(no grammar for the language, the pair was not executed) leaves the judge's score alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from tree_sitter_language_pack import get_parser

from polyforge.checklists import Checklist

_MARKDOWN = MarkdownIt("commonmark")

# Sandbox statuses that are a verdict on the code. Anything else is not: an infrastructure error, or tests that
# are no evidence ('vacuous_tests': no assertion, or they pass against a stub), which leave the judge's score.
PASSED_STATUSES = frozenset({"passed"})
FAILED_STATUSES = frozenset({"failed", "compile_error", "runtime_error", "timeout", "memory_limit"})
NOT_EVIDENCE = frozenset({"sandbox_error", "vacuous_tests"})


@dataclass(frozen=True)
class Override:
    """A criterion's score set by a rule, and why (shown as the criterion's rationale)."""

    criterion: str
    score: float
    source: str  # 'parser' or 'sandbox'
    explanation: str


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, body) of each Markdown fenced code block in `text`, in order; the tag is the info
    string's first word ('' when none). CommonMark: a fence left open, as in a reply cut by max_tokens,
    runs to the end."""
    return [((token.info.split() or [""])[0], token.content) for token in _MARKDOWN.parse(text)
            if token.type == "fence"]


def fenced_code_blocks(text: str) -> list[str]:
    """The bodies of the Markdown fenced code blocks in `text`, in order."""
    return [body for _, body in fenced_blocks(text)]


@lru_cache(maxsize=None)
def _parser(grammar: str):
    return get_parser(grammar)


def syntax_tree(code: str, grammar: str):
    """The root node of `code` parsed with the tree-sitter grammar `grammar`."""
    return _parser(grammar).parse(code.encode("utf-8")).root_node


def is_comment(node) -> bool:
    return "comment" in node.type


def parses_cleanly(code: str, grammar: str) -> bool:
    """True when tree-sitter parses `code` without error nodes and finds at least one construct that is not a
    comment: a block of comments and blank lines holds no code."""
    root = syntax_tree(code, grammar)
    return not root.has_error and any(not is_comment(child) for child in root.named_children)


def parser_override(criterion: str, checklist: Checklist, answer: str, grammar: str | None) -> Override | None:
    """Code exists when at least one fenced block parses cleanly with the language's grammar."""
    if grammar is None:
        return None
    blocks = fenced_code_blocks(answer)
    clean = sum(parses_cleanly(block, grammar) for block in blocks)
    if clean:
        return Override(criterion, checklist.scale.max, "parser",
                        f"{clean} of {len(blocks)} fenced code block(s) parse as {grammar}")
    found = f"none of {len(blocks)} fenced code block(s) parses" if blocks else "no fenced code block"
    return Override(criterion, checklist.scale.min, "parser", f"{found} as {grammar}")


def sandbox_override(criterion: str, checklist: Checklist, execution_status: str | None) -> Override | None:
    """The sandbox's verdict when the pair was executed: passed is the top score, any failure the bottom; a run
    that is no evidence about the code decides nothing."""
    if execution_status in NOT_EVIDENCE:
        return None
    if execution_status in PASSED_STATUSES:
        return Override(criterion, checklist.scale.max, "sandbox", f"the sandbox run {execution_status}")
    if execution_status in FAILED_STATUSES:
        return Override(criterion, checklist.scale.min, "sandbox", f"the sandbox run ended: {execution_status}")
    return None


def known_facts(checklist: Checklist, answer: str, grammar: str | None, execution_status: str | None) -> list[Override]:
    """Every override that applies to this answer under this checklist."""
    overrides = []
    for criterion in checklist.criteria:
        if criterion.override == "parser":
            override = parser_override(criterion.id, checklist, answer, grammar)
        elif criterion.override == "sandbox":
            override = sandbox_override(criterion.id, checklist, execution_status)
        else:
            continue
        if override is not None:
            overrides.append(override)
    return overrides
