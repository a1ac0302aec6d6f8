"""AST-level fill-in-the-middle cuts: the middle is one tree-sitter node of a chosen level.

Qwen2.5-Coder's FIM data masks syntax nodes rather than arbitrary lines, so that the span to fill is a unit a
programmer would write at once. Levels, from small to large: an expression, a statement, a nested block
(an if's or a loop's body) and a function's body. Node kinds are recognized by the names tree-sitter grammars
share (`*_expression`, `*_statement`, `block`, a definition's `body` field), so one rule serves every language
with a grammar; a language without one gives no AST cut.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from polyforge.languages import language_by_name

FIM_LEVELS = ("expression", "statement", "block", "function_body")

# Node types that are an expression in grammars whose names lack "expression" (Python's, mostly).
_EXPRESSIONS = frozenset({"call", "binary_operator", "boolean_operator", "comparison_operator", "attribute",
                          "subscript", "lambda", "list_comprehension", "dictionary_comprehension", "conditional"})
# Node types that are a brace or indentation block.
_BLOCKS = frozenset({"block", "compound_statement", "statement_block", "do_block", "body_statement"})
# Local declarations that are statements inside a block.
_LOCAL_DECLARATIONS = frozenset({"let_declaration", "local_variable_declaration", "short_var_declaration",
                                 "var_declaration", "lexical_declaration", "variable_declaration", "declaration",
                                 "assignment"})
_FUNCTIONS = ("function", "method", "func", "lambda", "constructor")


@dataclass(frozen=True)
class FimCut:
    prefix: str
    middle: str
    suffix: str
    level: str  # one of FIM_LEVELS, or "line" for a line cut


@lru_cache(maxsize=None)
def _parser(grammar: str):
    from tree_sitter_language_pack import get_parser

    return get_parser(grammar)


def grammar_of(language: str) -> str | None:
    row = language_by_name(language)
    return row.grammar if row else None


def _is_function(node) -> bool:
    return any(word in node.type for word in _FUNCTIONS)


def node_level(node) -> str | None:
    """The FIM level of a syntax node, or None when it is none of them."""
    if not node.is_named:
        return None
    parent = node.parent
    if parent is not None and _is_function(parent) and parent.child_by_field_name("body") == node:
        return "function_body"
    if node.type in _BLOCKS or node.type.endswith("_block"):
        return "block"
    if node.type.endswith("statement") or (node.type in _LOCAL_DECLARATIONS and parent is not None
                                           and (parent.type in _BLOCKS or parent.type.endswith("_block"))):
        return "statement"
    if ("expression" in node.type and not node.type.endswith("statement")) or node.type in _EXPRESSIONS:
        return "expression"
    return None


def nodes_by_level(root) -> dict[str, list]:
    """Every node of the tree under `root`, grouped by its FIM level (document order)."""
    found: dict[str, list] = {level: [] for level in FIM_LEVELS}
    cursor = root.walk()
    while True:
        level = node_level(cursor.node)
        if level:
            found[level].append(cursor.node)
        if cursor.goto_first_child() or cursor.goto_next_sibling():
            continue
        while cursor.goto_parent():
            if cursor.goto_next_sibling():
                break
        else:
            return found


def ast_fim_cut(code: str, language: str, seed: int, levels=FIM_LEVELS) -> FimCut | None:
    """Cut `code` around one node of a level drawn from `levels` (each level with candidates equally likely, then
    a node of it uniformly), seeded so that the same code and seed give the same cut. None when the language has
    no grammar, the code does not parse, or no node of those levels holds code."""
    grammar = grammar_of(language)
    if grammar is None:
        return None
    data = code.encode("utf-8")
    tree = _parser(grammar).parse(data)
    if tree.root_node.has_error:
        return None
    found = nodes_by_level(tree.root_node)
    candidates = {level: [node for node in found[level] if data[node.start_byte:node.end_byte].strip()
                          and node.end_byte - node.start_byte < len(data)]
                  for level in levels}
    usable = [level for level in levels if candidates[level]]
    if not usable:
        return None
    draw = random.Random(seed)
    level = draw.choice(usable)
    node = draw.choice(candidates[level])
    return FimCut(data[:node.start_byte].decode(), data[node.start_byte:node.end_byte].decode(),
                  data[node.end_byte:].decode(), level)
