"""Whether generated tests are evidence about an answer, and what the tester may be told about the answers.

Per-language knowledge is data in the sandbox's language table (`polyforge/sandbox/languages.py`): the
tree-sitter node types of function definitions (`functions`) and what holds their body (`body`), the trivial
bodies of stub programs (`stub_bodies`) and the patterns of an assertion (`assertion_patterns`); the grammar
comes from the language table of `polyforge/languages`. This module only applies them:

- `shared_interface`: the function signatures every candidate defines, so that tests written from the
  instruction can call the solution without favouring one candidate;
- `without_own_solution`, `without_clashes`: the tests without the tester's own copy of the solution's
  functions, and a compiled answer without what the tests define again (their `main`, a check that asserts);
- `assertion_free`: tests that hold no assertion (comments aside) check nothing;
- `stub_programs`: the candidate with every function's body replaced by a trivial one (returns None, 0,
  an empty list; a typed language's zero value, chosen by the function's signature where no value fits every
  type); tests that pass against a stub check nothing either.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from polyforge.agents.judge_rules import is_comment, syntax_tree
from polyforge.languages import language_by_name
from polyforge.sandbox import Execution, Status, Toolchain, UnknownLanguage, language as sandbox_language


@dataclass(frozen=True)
class Function:
    name: str
    signature: str  # the definition up to its body, whitespace collapsed
    body: tuple[int, int]  # byte range of the body in the code


def _grammar(lang: Toolchain) -> str | None:
    language = language_by_name(lang.name)  # by name or alias, case-insensitively ("Vim script", "Vim Script")
    return language.grammar if language is not None else None


def _toolchain(language: str) -> Toolchain | None:
    try:
        return sandbox_language(language)
    except UnknownLanguage:
        return None


def _name(node) -> str:
    """A definition's name: its `name` field, the identifier at the end of its declarator chain (C), or the
    name it is assigned to (an arrow function in `const f = ...`)."""
    named = node.child_by_field_name("name")
    declarator = node.child_by_field_name("declarator")
    while named is None and declarator is not None:
        named = declarator if declarator.child_by_field_name("declarator") is None else None
        declarator = declarator.child_by_field_name("declarator")
    if named is None and node.parent is not None:
        named = node.parent.child_by_field_name("name") or node.parent.child_by_field_name("left")
    return named.text.decode("utf-8", "replace") if named is not None else ""


def _body(node, lang: Toolchain) -> tuple[int, int] | None:
    """The byte range of a function's body (see `Toolchain.body`), or None when it has none (punctuation alone,
    such as an abstract method's `;`, is none)."""
    parts = [child for index, child in enumerate(node.children) if (field := node.field_name_for_child(index))
             in lang.body or (field is None and child.type in lang.body)]
    return (parts[0].start_byte, parts[-1].end_byte) if any(part.is_named for part in parts) else None


def _outermost_functions(node, lang: Toolchain) -> Iterator[tuple[object, tuple[int, int]]]:
    """(definition node, byte range of its body) of the outermost functions under `node`."""
    for child in node.named_children:
        body = _body(child, lang) if child.type in lang.functions else None
        if body is not None:
            yield child, body
        else:
            yield from _outermost_functions(child, lang)


def functions(code: str, lang: Toolchain) -> list[Function]:
    """The functions `code` defines, outermost only (a nested function goes with its parent's body)."""
    grammar = _grammar(lang)
    if grammar is None or not lang.functions:
        return []
    data = code.encode("utf-8")
    found = []
    for node, body in _outermost_functions(syntax_tree(code, grammar), lang):
        start = node.start_byte
        if node.parent is not None and node.parent.type in ("variable_declarator", "assignment"):
            start = node.parent.start_byte  # `f = (x) =>`: the name belongs to the signature
        signature = " ".join(data[start:body[0]].decode("utf-8", "replace").split())
        found.append(Function(_name(node), signature, body))
    return found


def shared_interface(language: str, codes: Sequence[str | None]) -> list[str]:
    """What every candidate with code defines alike: a function's signature when all candidates write it the
    same, its name alone when they agree on the name only; nothing of what only some define. It favours no
    candidate: the tester learns only what they all share."""
    lang = _toolchain(language)
    defined = [functions(code, lang) for code in codes if code] if lang is not None else []
    if not defined or not all(defined):
        return []
    shared = []
    for function in defined[0]:
        same_name = [[f for f in others if f.name == function.name] for others in defined[1:]]
        if not function.name or not all(same_name):
            continue
        alike = all(any(f.signature == function.signature for f in group) for group in same_name)
        shared.append(function.signature if alike else function.name)
    return shared


# Nodes around a function that belong to its definition: `const f = ...;`, Python's decorators.
DECLARATION_WRAPPERS = frozenset({"variable_declarator", "lexical_declaration", "variable_declaration",
                                  "decorated_definition", "assignment_expression", "expression_statement"})
ENTRY_POINT = "main"  # the tests' own `main` runs them; an answer's `main` is only its example of use


def _top_level_definitions(code: str, lang: Toolchain) -> Iterator[tuple[str, int, int]]:
    """(name, start byte, end byte) of each function `code` defines at its top level: a definition that is a
    child of the file itself, or the declaration that assigns one (`const f = () => ...;`)."""
    grammar = _grammar(lang)
    if grammar is None or not lang.functions:
        return
    root = syntax_tree(code, grammar)
    for node, _ in _outermost_functions(root, lang):
        whole = node
        while whole.parent is not None and whole.parent != root and whole.parent.type in DECLARATION_WRAPPERS:
            whole = whole.parent
        if whole.parent == root:
            yield _name(node), whole.start_byte, whole.end_byte


def _cut(code: str, spans: list[tuple[int, int]]) -> str:
    data = code.encode("utf-8")
    for start, end in sorted(spans, reverse=True):
        data = data[:start] + data[end:]
    return data.decode("utf-8", "replace")


def without_own_solution(language: str, tests: str, codes: Sequence[str | None]) -> tuple[str, list[str]]:
    """(the tests without their own top-level definitions of the functions a candidate defines, the names
    removed). A tester that writes the solution too would test its copy (Python: the copy shadows the
    answer, the tests pass whatever the answer) or fail to compile (C, Go, Rust: a redefinition).

    One same-named definition is not a copy: a check that asserts where the answers' function of that name
    does not. Answers often end with a `check` or `test_...` function that only prints; the tester, told the
    answers' signatures, writes it again with assertions, and cutting that would leave tests with no assertion.
    It stays, and a compiled answer's own gives way to it (`without_clashes`)."""
    lang = _toolchain(language)
    if lang is None:
        return tests, []
    answers_assert: dict[str, bool] = {}
    for code in filter(None, codes):
        data = code.encode("utf-8")
        for function in functions(code, lang):
            body = data[function.body[0]:function.body[1]].decode("utf-8", "replace")
            answers_assert[function.name] = answers_assert.get(function.name, False) or asserts(language, body)
    answers_assert.pop("", None)
    answers_assert.pop(ENTRY_POINT, None)
    data = tests.encode("utf-8")
    cuts = [(name, start, end) for name, start, end in _top_level_definitions(tests, lang) if name in answers_assert
            and (answers_assert[name] or not asserts(language, data[start:end].decode("utf-8", "replace")))]
    if not cuts:
        return tests, []
    return _cut(tests, [(start, end) for _, start, end in cuts]), sorted({name for name, _, _ in cuts})


@functools.lru_cache(maxsize=64)
def _names_defined(language: str, tests: str) -> frozenset[str]:
    """The functions the tests define at their top level (asked once per candidate and stub: parsed once)."""
    lang = _toolchain(language)
    return frozenset() if lang is None else frozenset(name for name, _, _ in _top_level_definitions(tests, lang))


def without_clashes(language: str, code: str, tests: str) -> str:
    """`code` without the top-level functions that the tests of a compiled language define too (the two would
    clash at link time): their `main`, which runs them where the answer's is only its example of use, and a
    check they wrote again with assertions (see `without_own_solution`); else `code`. An interpreter runs both
    in turn, so there the answer keeps its own."""
    lang = _toolchain(language)
    if lang is None or lang.compile is None:
        return code
    names = _names_defined(language, tests)
    return _cut(code, [(start, end) for name, start, end in _top_level_definitions(code, lang) if name in names])


def _without_comments(code: str, grammar: str | None) -> str:
    if grammar is None:
        return code
    data = code.encode("utf-8")
    cuts, stack = [], [syntax_tree(code, grammar)]
    while stack:
        node = stack.pop()
        if is_comment(node):
            cuts.append((node.start_byte, node.end_byte))
        else:
            stack.extend(node.named_children)
    for start, end in sorted(cuts, reverse=True):
        data = data[:start] + b" " + data[end:]
    return data.decode("utf-8", "replace")


def asserts(language: str, code: str) -> bool:
    """True when `code` holds one of the language's assertion patterns outside comments; never for a language
    without patterns."""
    lang = _toolchain(language)
    return lang is not None and bool(lang.assertion_patterns) and not assertion_free(language, code)


def assertion_free(language: str, tests: str) -> bool:
    """True when the tests hold none of the language's assertion patterns outside comments; a language
    without patterns is never judged assertion-free."""
    lang = _toolchain(language)
    if lang is None or not lang.assertion_patterns:
        return False
    text = _without_comments(tests, _grammar(lang))
    return not any(re.search(pattern, text, re.MULTILINE) for pattern in lang.assertion_patterns)


OWN_BODY = b"{body}"  # in a stub body: the function's own body (dead code after a return; a value kept as it is)


@dataclass(frozen=True)
class Stub:
    program: str
    bodies: tuple[str, ...]  # the bodies it gave the functions, each once


def _stub_body(stub: str | dict[str, str], signature: str) -> str | None:
    """A function's body in a stub: the stub's body, or the body of its first pattern that matches the
    function's signature (None when none does)."""
    if isinstance(stub, str):
        return stub
    for pattern, body in stub.items():
        if (match := re.search(pattern, signature)) is not None:
            return match.expand(body)
    return None


def _has_error_node(node) -> bool:
    """Whether the tree holds text its grammar could not read (an ERROR node), where a definition may hide; a
    MISSING node (the closing brace of a class that the tests complete) hides none."""
    return node.has_error and (node.is_error or any(map(_has_error_node, node.children)))


def _unreadable(code: str, lang: Toolchain) -> bool:
    grammar = _grammar(lang)
    return grammar is not None and _has_error_node(syntax_tree(code, grammar))


def stub_programs(language: str, code: str) -> list[Stub]:
    """`code` with every function's body replaced, once per stub of the language (`Toolchain.stub_bodies`);
    a stub whose patterns miss one of the functions, or that changes nothing, is left out. Empty when the
    language has no stub generator, the code defines no function, or its grammar cannot read all of it: a
    function it misses would keep its body, and tests of it would pass against the stub."""
    lang = _toolchain(language)
    if lang is None or not lang.stub_bodies or _unreadable(code, lang):
        return []
    defined = functions(code, lang)
    data = code.encode("utf-8")
    stubs = []
    for stub in lang.stub_bodies if defined else ():
        bodies = [_stub_body(stub, function.signature) for function in defined]
        if None in bodies:
            continue
        program = data
        for (start, end), body in sorted(zip((function.body for function in defined), bodies), reverse=True):
            program = program[:start] + body.encode("utf-8").replace(OWN_BODY, data[start:end]) + program[end:]
        if program != data:
            stubs.append(Stub(program.decode("utf-8"), tuple(dict.fromkeys(bodies))))
    return stubs


def _no_stub(lang: Toolchain, codes: Sequence[str | None]) -> str:
    """Why no answer could be stubbed."""
    written = [code for code in codes if code]
    if any(_unreadable(code, lang) for code in written):
        return f"the {lang.name} grammar cannot read an answer (a function it misses would keep its body)"
    if any(functions(code, lang) for code in written):
        return f"no stub of {lang.name} fits the answers' functions"
    return "the answers define no function"


def has_stub_generator(language: str) -> bool:
    lang = _toolchain(language)
    return lang is not None and bool(lang.stub_bodies) and _grammar(lang) is not None


async def vacuity(run: Callable[[str], Awaitable[Execution | None]], language: str, tests: str,
                  codes: Sequence[str | None]) -> tuple[str | None, str]:
    """(why the tests are no evidence, or None; what the stub check could not do, or '').

    `run(program)` runs a program with the tests. Tests without an assertion are vacuous without a run;
    otherwise the first candidate that defines functions is stubbed with each of the language's stubs in
    turn, and tests that pass against any stub are vacuous.
    """
    if assertion_free(language, tests):
        return "the tests hold no assertion", ""
    if not has_stub_generator(language):
        return None, f"stub check skipped: no stub generator for {language}"
    stubs = next((programs for code in codes if code and (programs := stub_programs(language, code))), [])
    if not stubs:
        return None, f"stub check skipped: {_no_stub(sandbox_language(language), codes)}"
    outcomes = []
    for stub in stubs:
        execution = await run(stub.program)
        if execution is not None and execution.status is Status.PASSED:
            bodies = " or ".join(f"`{body.strip()}`" for body in stub.bodies)
            return f"the tests also pass when every function's body is {bodies}", ""
        outcomes.append(execution.status if execution is not None else None)
    if all(outcome is Status.COMPILE_ERROR for outcome in outcomes):
        return None, "stub check inconclusive: no stub program compiled"
    return None, ""


def as_evidence(execution: Execution | None, vacuous: str | None, note: str) -> Execution | None:
    """A candidate's run as the campaign records it: a pass on tests that are no evidence becomes
    `vacuous_tests` (with the run's own status in the reason); a run that did not pass keeps its status, since
    code that does not build or run with the tests is no pass either way (the vacuity noted in its reason);
    otherwise the run, with the stub check's note added to its reason."""
    if execution is None:
        return None
    if vacuous and execution.status is Status.PASSED:
        own = "passed" + (f" ({execution.reason})" if execution.reason else "")
        return replace(execution, status=Status.VACUOUS_TESTS, reason=f"{vacuous}; the answer's own run: {own}")
    if vacuous:
        note = "; ".join(part for part in (note, f"and the tests are no evidence: {vacuous}") if part)
    if note:
        return replace(execution, reason="; ".join(part for part in (execution.reason, note) if part))
    return execution
