"""Cut function- and class-level snippets out of source files: tree-sitter where the language has a
grammar, blank-line-separated blocks (kind "block") where it has none."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from tree_sitter import Query, QueryCursor
from tree_sitter_language_pack import get_language, get_parser

from polyforge.languages import Language

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
    return get_parser(grammar)


@lru_cache(maxsize=None)
def definitions_query(language: Language) -> QueryCursor:
    pattern = " ".join(f"({node_type}) @definition" for node_type in sorted(language.definitions))
    return QueryCursor(Query(get_language(language.grammar), f"[{pattern}]"))


def _definitions(root, language: Language) -> list:
    """Every definition node below `root`, found by a tree-sitter query (in C, not a Python walk),
    in document order with an outer definition before the ones inside it."""
    nodes = definitions_query(language).captures(root).get("definition", [])
    return sorted(nodes, key=lambda node: (node.start_byte, -node.end_byte))


def _is_comment(node, language: Language) -> bool:
    return "comment" in node.type or node.type in language.doc_comments


def _leading_comment_start(node, language: Language) -> int:
    """The first row of the comment block directly above `node` (doc comments belong to it). The
    first definition of a group (Haskell's declarations) looks above the group."""
    start = node.start_point[0]
    sibling = node.prev_sibling
    while sibling is None and node.parent is not None and node.parent.start_point[0] == start:
        node = node.parent
        sibling = node.prev_sibling
    while sibling is not None and _is_comment(sibling, language) and sibling.end_point[0] >= start - 1:
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
    tree = _parser(language.grammar).parse(source.encode("utf-8"))
    if tree.root_node.has_error:
        raise ParseFailure(f"{language.name} parser reported syntax errors")
    lines = source.split("\n")  # tree-sitter rows end at \n only (str.splitlines also splits at \f, ...)
    # No token spans a line break, so a definition's tokens are a difference of per-line prefix sums:
    # the file is tokenized once, not once per nested definition.
    tokens_before = [0, *itertools.accumulate(len(_TOKEN.findall(line)) for line in lines)]
    found: list[CutSnippet] = []
    # Definitions in document order, outer before inner. `skip_until` passes over the inside of a
    # definition already cut (or too short to hold anything); `too_long` holds the definitions
    # being split, with how many inner ones were kept from each.
    skip_until = -1
    too_long: list[list] = []  # [end_byte, kept]

    def close_too_long(before: int) -> None:
        while too_long and too_long[-1][0] <= before:
            end, kept = too_long.pop()
            if not kept:
                dropped["too long"] += 1

    for node in _definitions(tree.root_node, language):
        if node.start_byte < skip_until:
            continue
        close_too_long(node.start_byte)
        first = _leading_comment_start(node, language)
        end = node
        completion = language.joined.get(node.type)
        if completion and node.next_sibling is not None and node.next_sibling.type == completion:
            end = node.next_sibling
        last = end.end_point[0]
        code = "\n".join(lines[first : last + 1])
        tokens = tokens_before[last + 1] - tokens_before[first]
        if tokens > max_tokens:
            too_long.append([end.end_byte, 0])
            continue
        skip_until = end.end_byte
        if last - first + 1 < min_lines:
            dropped["too short"] += 1
            continue
        found.append(CutSnippet(first + 1, last + 1, node.type, code, tokens))
        for entry in too_long:
            entry[1] += 1
    close_too_long(len(source.encode("utf-8")) + 1)
    return found
