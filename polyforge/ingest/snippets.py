"""Cut function- and class-level snippets out of source files: tree-sitter where the language has a
grammar, blank-line-separated blocks (kind "block") where it has none."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from polyforge.ingest.languages import Language

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """A tokenizer-free estimate (words and symbols), close to BPE counts for code."""
    return len(_TOKEN.findall(text))


def normalized_hash(code: str) -> str:
    """Hash of the code with whitespace collapsed, so re-indented copies count as the same."""
    return hashlib.sha256(" ".join(code.split()).encode()).hexdigest()


@dataclass(frozen=True)
class CutSnippet:
    start_line: int  # 1-based, inclusive; includes leading comments
    end_line: int
    kind: str
    code: str
    tokens: int


class ParseFailure(ValueError):
    pass


@lru_cache(maxsize=None)
def _parser(grammar: str):
    from tree_sitter_language_pack import get_parser

    return get_parser(grammar)


def _leading_comment_start(node) -> int:
    """The first row of the comment block directly above `node` (doc comments belong to it)."""
    start = node.start_point[0]
    sibling = node.prev_sibling
    while sibling is not None and "comment" in sibling.type and sibling.end_point[0] >= start - 1:
        start = sibling.start_point[0]
        sibling = sibling.prev_sibling
    return start


def cut_blocks(source: str, max_tokens: int, min_lines: int, dropped: Counter) -> list[CutSnippet]:
    """Blank-line-separated blocks, for languages without a grammar; a block keeps its comments."""
    found: list[CutSnippet] = []
    block: list[str] = []
    start = 0
    for number, line in enumerate([*source.splitlines(), ""]):
        if line.strip():
            if not block:
                start = number
            block.append(line)
            continue
        if not block:
            continue
        code = "\n".join(block)
        tokens = count_tokens(code)
        if tokens > max_tokens:
            dropped["too long"] += 1
        elif len(block) < min_lines:
            dropped["too short"] += 1
        else:
            found.append(CutSnippet(start + 1, start + len(block), "block", code, tokens))
        block = []
    return found


def cut_snippets(
    source: str, language: Language, max_tokens: int, min_lines: int, dropped: Counter | None = None
) -> list[CutSnippet]:
    """The outermost definitions that fit in `max_tokens`; a bigger one is split into its inner ones.

    Definitions that are too short, or too long with nothing inside to split into, are counted in
    `dropped` by reason. Raises ParseFailure when the file does not parse cleanly: such files are
    dropped, as the Qwen2.5-Coder recipe does.
    """
    dropped = dropped if dropped is not None else Counter()
    if not language.has_grammar:
        return cut_blocks(source, max_tokens, min_lines, dropped)
    data = source.encode("utf-8")
    tree = _parser(language.grammar).parse(data)
    if tree.root_node.has_error:
        raise ParseFailure(f"{language.name} parser reported syntax errors")
    lines = source.splitlines()
    found: list[CutSnippet] = []

    def visit(node) -> int:
        """Cut definitions below `node`; returns how many were kept."""
        kept = 0
        for child in node.children:
            if child.type not in language.definitions:
                kept += visit(child)
                continue
            first = _leading_comment_start(child)
            last = child.end_point[0]
            completion = language.joined.get(child.type)
            if completion and child.next_sibling is not None and child.next_sibling.type == completion:
                last = child.next_sibling.end_point[0]
            code = "\n".join(lines[first : last + 1])
            tokens = count_tokens(code)
            if tokens > max_tokens:
                inner = visit(child)
                if not inner:
                    dropped["too long"] += 1
                kept += inner
            elif last - first + 1 < min_lines:
                dropped["too short"] += 1
            else:
                found.append(CutSnippet(first + 1, last + 1, child.type, code, tokens))
                kept += 1
        return kept

    visit(tree.root_node)
    return found
