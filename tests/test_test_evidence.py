"""Whether generated tests are evidence: assertions, stub programs, and the interface the tester is told."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest

from polyforge.agents import test_evidence
from polyforge.agents.test_evidence import (as_evidence, assertion_free, shared_interface, stub_programs,
                                            vacuity, without_clashes, without_own_solution)
from polyforge.sandbox import LANGUAGES, Execution, Sandbox, Status, language as sandbox_language
from sandbox_support import requires_sandbox

PY_LOOP = "def total(xs: list[int]) -> int:\n    s = 0\n    for x in xs:\n        s += x\n    return s\n"
PY_BUILTIN = "import math\n\ndef total(xs: list[int]) -> int:\n    '''Sum.'''\n    return sum(xs)\n\n\ndef helper():\n    return 1\n"


def test_the_interface_is_what_every_candidate_shares():
    assert shared_interface("Python", [PY_LOOP, PY_BUILTIN, None]) == ["def total(xs: list[int]) -> int:"]
    assert shared_interface("Python", [PY_BUILTIN]) == ["def total(xs: list[int]) -> int:", "def helper():"]
    # names agree, signatures differ: the name alone, so that neither candidate's parameters are favoured
    assert shared_interface("Python", [PY_LOOP, "def total(values):\n    return sum(values)\n"]) == ["total"]
    assert shared_interface("Python", [PY_LOOP, "print(6)\n"]) == []  # one defines nothing: nothing is shared
    assert shared_interface("JavaScript", ["const add = (a, b) => a + b;"]) == ["add = (a, b) =>"]
    assert shared_interface("C", ["char *name(int id) { return 0; }"]) == ["char *name(int id)"]
    assert shared_interface("Go", ["package main\nfunc Total(xs []int) int { return 0 }\n"]) == [
        "func Total(xs []int) int"]
    assert shared_interface("Prolog", ["x."]) == []


def test_stub_programs_replace_every_function_body():
    stubs = [stub.program for stub in stub_programs("Python", PY_BUILTIN)]
    assert len(stubs) == 3 and "import math" in stubs[0]
    assert "def total(xs: list[int]) -> int:\n    return None\n" in stubs[0] and "sum(xs)" not in stubs[0]
    assert "def helper():\n    return 0" in stubs[1] and "return []" in stubs[2]
    [rust] = stub_programs("Rust", "fn total(xs: &[i32]) -> i32 { xs.iter().sum() }\n")
    assert rust.program == "fn total(xs: &[i32]) -> i32 { Default::default() }\n"
    [js, _, _] = stub_programs("JavaScript", "const f = (x) => x * 2;")
    assert js.program == "const f = (x) => { return undefined; };"
    assert stub_programs("Elixir", "defmodule M do\n  def f, do: 1\nend\n") == []  # no stub generator
    assert stub_programs("Python", "print(1)\n") == []  # no function to stub


def test_a_typed_languages_stub_fits_each_functions_signature():
    [java] = stub_programs("Java", "class M {\n int count() { return 1; }\n void log() { System.out.println(); }\n"
                                   " String name() { return \"m\"; }\n boolean ok() { return true; }\n}\n")
    assert java.program == ("class M {\n int count() { return 0; }\n void log() { }\n String name() { return null; }\n"
                            " boolean ok() { return false; }\n}\n")
    assert java.bodies == ("{ return 0; }", "{ }", "{ return null; }", "{ return false; }")
    # Go: the zero of each result, the own body kept as dead code (its imports stay used)
    [go] = stub_programs("Go", "package main\nfunc Split(s string) (string, error) { return strings.TrimSpace(s), nil"
                               " }\nfunc Count() (n int) { n = 1; return }\nfunc main() { fmt.Println() }\n")
    assert go.program == ("package main\nfunc Split(s string) (string, error) { return *new(string), *new(error); "
                          "{ return strings.TrimSpace(s), nil } }\nfunc Count() (n int) { return; { n = 1; return } }\n"
                          "func main() { return; { fmt.Println() } }\n")
    # C#: an expression body's `;` goes with it, a block body takes none
    [csharp] = stub_programs("C#", "abstract class P {\n static int Twice(int x) => x * 2;\n static void Hi() { }\n"
                                   " public abstract int Size();\n}\n")
    assert csharp.program == ("abstract class P {\n static int Twice(int x) { return default; }\n"
                              " static void Hi() { }\n public abstract int Size();\n}\n")  # abstract: no body to stub
    # F#: a value stays as it is; a function returns the zero of its inferred type
    [fsharp] = stub_programs("F#", 'let add a b = a + b\nlet name = "add"\n')
    assert fsharp.program == 'let add a b = Unchecked.defaultof<_>\nlet name = "add"\n'
    # a body of several parts: Haskell's guarded equations, Common Lisp's forms after the parameters
    assert stub_programs("Haskell", "sign x | x > 0 = 1\n       | otherwise = 0\n")[0].program == "sign x = 0\n"
    assert stub_programs("Common Lisp", '(defun add (a b) "Sum." (+ a b))')[1].program == "(defun add (a b) 0)"


def test_an_answer_its_grammar_cannot_read_is_not_stubbed():
    """A function the grammar misses would keep its body, and tests of it would pass against the stub."""
    unreadable = "def two():\n    return 2\n\nx = [1, 2\n\ndef total(xs):\n    return sum(xs)\n"  # total is missed
    assert stub_programs("Python", unreadable) == []
    assert len(stub_programs("Java", "class Main {\n static int add(int a, int b) { return a + b; }\n")) == 1  # no `}`

    async def run(program: str) -> Execution:
        raise AssertionError("no stub to run")

    assert asyncio.run(vacuity(run, "Python", "assert total([1]) == 1\n", [unreadable])) == (
        None, "stub check skipped: the Python grammar cannot read an answer (a function it misses would keep its body)")
    assert stub_programs("F#", 'let name = "add"\n') == []  # a value stays as it is: no stub


def test_a_stub_whose_patterns_miss_a_function_is_left_out(monkeypatch):
    def go_stubs(*stubs):
        go = replace(sandbox_language("Go"), stub_bodies=stubs)
        monkeypatch.setattr(test_evidence, "_toolchain", lambda language: go)

    ints_only = {r"\) int$": "{ return 0 }"}
    code = "package main\nfunc One() int { return 1 }\nfunc Name() string { return \"one\" }\n"
    go_stubs(ints_only, "{ }")
    assert [stub.bodies for stub in stub_programs("Go", code)] == [("{ }",)]
    go_stubs(ints_only)

    async def run(program: str) -> Execution:
        raise AssertionError("no stub to run")

    assert asyncio.run(vacuity(run, "Go", "func TestOne(t *testing.T) { t.Fail() }", [code])) == (
        None, "stub check skipped: no stub of Go fits the answers' functions")


def test_the_testers_own_copy_of_the_solution_is_cut_from_its_tests():
    copy = "def total(xs):\n    return 0\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n\n\ntest_total()\n"
    tests, removed = without_own_solution("Python", copy, [PY_LOOP, None])
    assert removed == ["total"] and "def total" not in tests and "def test_total():" in tests
    assert tests.rstrip().endswith("test_total()")
    decorated = "@functools.cache\ndef total(xs):\n    return 0\nassert total([1]) == 1\n"
    assert without_own_solution("Python", decorated, [PY_LOOP]) == ("\nassert total([1]) == 1\n", ["total"])
    # a nested definition of the same name is the tests' own business; a name no answer defines stays
    nested = "def check():\n    def total(xs):\n        return 1\n    assert total([]) == 1\n"
    assert without_own_solution("Python", nested, [PY_LOOP]) == (nested, [])
    assert without_own_solution("Python", "def other():\n    pass\n", [PY_LOOP])[1] == []
    go = 'package main\n\nfunc Total(xs []int) int { return 1 }\n\nfunc TestTotal(t *testing.T) {}\n'
    tests, removed = without_own_solution("Go", go, ["package main\nfunc Total(xs []int) int { return 0 }\n"])
    assert removed == ["Total"] and "func Total" not in tests and "func TestTotal" in tests
    js = "const add = (a, b) => a - b;\nassert(add(1, 1) === 2);\n"
    assert without_own_solution("JavaScript", js, ["function add(a, b) { return a + b; }"]) == (
        "\nassert(add(1, 1) === 2);\n", ["add"])
    # `main` runs the tests: never cut from them
    c_tests = "int main(void) { assert(add(1, 1) == 2); }\n"
    assert without_own_solution("C", c_tests, ["int add(int a, int b) { return a + b; }\nint main(void) {}\n"]) == (
        c_tests, [])


def test_a_compiled_answers_main_gives_way_to_the_tests_main():
    answer = '#include <stdio.h>\nint add(int a, int b) { return a + b; }\nint main(void) { printf("%d", add(1, 2)); }\n'
    assert without_clashes("C", answer, "int main(void) { assert(add(1, 1) == 2); }") == \
        "#include <stdio.h>\nint add(int a, int b) { return a + b; }\n\n"
    assert without_clashes("C", answer, "void check(void) { assert(add(1, 1) == 2); }") == answer
    python = "def main():\n    print(1)\n\nif __name__ == '__main__':\n    main()\n"
    assert without_clashes("Python", python, "def main():\n    assert True\n") == python  # interpreted: kept


C_DEMO = ('#include <stdio.h>\nint add(int a, int b) { return a + b; }\n'
          'void check(void) { printf("%d", add(1, 2)); }\nint main(void) { check(); }\n')
C_CHECK = "void check(void) { assert(add(1, 2) == 3); }\nint main(void) { check(); }\n"


def test_a_check_that_asserts_is_not_taken_for_a_copy_of_the_answers_demo():
    """Answers often end with a check that only prints; the tester, told its name, writes it again with
    assertions. That used to be cut as the tester's copy of the solution, leaving tests with no assertion."""
    assert without_own_solution("C", C_CHECK, [C_DEMO]) == (C_CHECK, [])
    # the answer's printing check gives way to the tests' (compiled: the two would clash)
    assert without_clashes("C", C_DEMO, C_CHECK) == "#include <stdio.h>\nint add(int a, int b) { return a + b; }\n\n\n"
    py_demo = "def total(xs):\n    return sum(xs)\n\ndef check():\n    print(total([1]))\n\ncheck()\n"
    py_check = "def check():\n    assert total([1, 2]) == 3\n\ncheck()\n"
    assert without_own_solution("Python", py_check, [py_demo]) == (py_check, [])
    assert without_clashes("Python", py_demo, py_check) == py_demo  # interpreted: the later definition wins
    # where the answer's function asserts too, the tester's is a copy and is cut, as before
    asserting = "def check():\n    assert total([]) == 0\n"
    assert without_own_solution("Python", py_check, [asserting])[1] == ["check"]


@requires_sandbox
def test_a_kept_check_runs_against_the_answer():
    sandbox = Sandbox()
    tests, _ = without_own_solution("C", C_CHECK, [C_DEMO])
    right = sandbox.run("C", {"main": without_clashes("C", C_DEMO, tests)}, test=tests)
    wrong = sandbox.run("C", {"main": without_clashes("C", C_DEMO.replace("a + b", "a - b"), tests)}, test=tests)
    assert (right.status, wrong.status) == (Status.PASSED, Status.FAILED), (right, wrong)


@pytest.mark.parametrize(("language", "tests", "free"), [
    ("Python", "print(total([1, 2]))\n# assert total([1, 2]) == 3\n", True),
    ("Python", "assert total([1, 2]) == 3\n", False),
    ("Python", "if total([1]) != 1:\n    raise SystemExit(1)\n", False),
    ("JavaScript", "console.log(total([1, 2]));", True),
    ("JavaScript", "console.assert(total([1, 2]) === 3);", False),
    ("Go", "func TestTotal(t *testing.T) { Total(nil) }", True),
    ("Go", 'func TestTotal(t *testing.T) { if Total(nil) != 0 { t.Errorf("want 0") } }', False),
    ("Rust", "#[test]\nfn t() { total(&[1]); }", True),
    ("Rust", "#[test]\nfn t() { assert_eq!(total(&[1]), 1); }", False),
    ("C", "int main(void) { total(0, 0); return 0; }", True),
    ("C", "int main(void) { assert(total(0, 0) == 0); return 0; }", False),
])
def test_tests_without_an_assertion_are_found_per_language(language, tests, free):
    assert assertion_free(language, tests) is free


def test_a_vacuous_run_keeps_its_own_status_in_the_reason():
    run = Execution(Status.PASSED, 0, "", "", 0.1, language="Python")
    marked = as_evidence(run, "the tests hold no assertion", "")
    assert marked.status is Status.VACUOUS_TESTS and marked.reason.endswith("the answer's own run: passed")
    assert run.status is Status.PASSED  # the run itself is not changed
    assert as_evidence(run, None, "stub check skipped: no stub generator for Elixir").reason == \
        "stub check skipped: no stub generator for Elixir"
    assert as_evidence(None, "x", "") is None


def test_a_run_that_did_not_pass_keeps_its_status_when_the_tests_are_vacuous():
    """Code that does not build with the tests is no pass whatever the tests are worth: the failed-tests gate
    must see the compile error, not a vacuity that sends the item to the judge."""
    run = Execution(Status.COMPILE_ERROR, 1, "", "", 0.1, language="C++", reason="error: 'check' was not declared")
    marked = as_evidence(run, "the tests hold no assertion", "")
    assert marked.status is Status.COMPILE_ERROR
    assert marked.reason == ("error: 'check' was not declared; and the tests are no evidence: the tests hold no "
                             "assertion")
    noted = as_evidence(run, "the tests hold no assertion", "the tester's own check removed from the tests")
    assert noted.reason == ("error: 'check' was not declared; the tester's own check removed from the tests; and the "
                            "tests are no evidence: the tests hold no assertion")


# Per language: an answer, tests a stub also passes, tests it fails.
CASES = {
    "Python": (PY_LOOP, "assert total([]) == 0\n", "assert total([1, 2, 3]) == 6\nassert total([]) == 0\n"),
    "JavaScript": ("function total(xs) { return xs.reduce((a, b) => a + b, 0); }",
                   "console.assert(total([]) === 0);", "console.assert(total([1, 2, 3]) === 6);"),
    "TypeScript": ("function total(xs: number[]): number { return xs.reduce((a, b) => a + b, 0); }",
                   "console.assert(total([]) === 0);", "console.assert(total([1, 2, 3]) === 6);"),
    "C": ("#include <assert.h>\nint total(const int *xs, int n) { int s = 0; for (int i = 0; i < n; i++) s += xs[i];"
          " return s; }\nvoid hello(void) { }\n",
          "int main(void) { assert(total(0, 0) == 0); return 0; }",
          "int main(void) { int xs[] = {1, 2, 3}; assert(total(xs, 3) == 6); return 0; }"),
    "Rust": ("fn total(xs: &[i32]) -> i32 { xs.iter().sum() }\n",
             "#[test]\nfn empty() { assert_eq!(total(&[]), 0); }",
             "#[test]\nfn three() { assert_eq!(total(&[1, 2, 3]), 6); }"),
}
# The rest: an answer whose `add` sums (typed languages: beside functions of other return types, each of which
# its stub must fit), and tests that check add 2 2 is 4; the same tests of add 0 0 being 0 pass against a stub.
ADDS = {
    "C++": ('#include <string>\nint add(int a, int b) { return a + b; }\nvoid hello() { }\n'
            'std::string name() { return "add"; }\n', "int main() { assert(add(2, 2) == 4); }"),
    "Java": ('class Main {\n static int add(int a, int b) { return a + b; }\n static void hello() { }\n'
             ' static String name() { return "add"; }\n static boolean yes() { return true; }\n',
             " public static void main(String[] x) { assert add(2, 2) == 4; }\n}"),
    "Go": ('package main\n\nimport "strings"\n\nfunc add(a, b int) int { return a + b }\n\n'
           'func trim(s string) (string, error) { return strings.TrimSpace(s), nil }\n\nfunc main() {}\n',
           'package main\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n\tif add(2, 2) != 4 {\n'
           '\t\tt.Error("add")\n\t}\n}\n'),
    "Shell": ("add() { echo $(( $1 + $2 )); }", "[[ $(add 2 2) == 4 ]] || exit 1"),
    "Perl": ("sub add { my ($a, $b) = @_; return $a + $b; }", 'die "add" unless add(2, 2) == 4;'),
    "Ruby": ("def add(a, b)\n  a + b\nend", "raise 'add' unless add(2, 2) == 4"),
    "PHP": ("<?php\nfunction add($a, $b) { return $a + $b; }\nfunction hello(): void { }\n",
            "assert(add(2, 2) === 4);"),
    "Lua": ("function add(a, b) return a + b end", "assert(add(2, 2) == 4)"),
    "Tcl": ("proc add {a b} { return [expr {$a + $b}] }", 'if {[add 2 2] != 4} { error "add" }'),
    "Common Lisp": ('(defun add (a b) "The sum." (+ a b))', "(assert (= (add 2 2) 4))"),
    "Pascal": ("function add(a, b: integer): integer;\nbegin\n  add := a + b;\nend;\n\nprocedure hello;\nbegin\nend;\n",
               "begin\n  Assert(add(2, 2) = 4, 'add');\nend.\n"),
    "Erlang": ("-module(main).\n-export([add/2, test/0]).\n\nadd(A, B) -> A + B.\n",
               "test() ->\n    4 = add(2, 2),\n    ok.\n"),
    "R": ("add <- function(a, b) a + b", "stopifnot(add(2, 2) == 4)"),
    "Emacs Lisp": ('(defun add (a b) "The sum." (+ a b))', '(unless (= (add 2 2) 4) (error "add"))'),
    "Haskell": ("add :: Int -> Int -> Int\nadd a b = a + b\n",
                'main :: IO ()\nmain = if add 2 2 == 4 then return () else error "add"\n'),
    "Vim script": ("function! Add(a, b)\n  return a:a + a:b\nendfunction", "if Add(2, 2) != 4\n  cquit\nendif"),
    "Kotlin": ('fun add(a: Int, b: Int): Int = a + b\nfun hello() { }\nfun name(): String = "add"\n'
               'fun names(): List<String> = listOf("add")\n', "fun main() { check(add(2, 2) == 4) }"),
    "Scala": ("object Main {\n  def add(a: Int, b: Int): Int = a + b\n  def hello(): Unit = {}\n",
              "  def main(args: Array[String]): Unit = assert(add(2, 2) == 4)\n}"),
    "C#": ('using System.Diagnostics;\nstatic class Calc {\n public static int add(int a, int b) { return a + b; }\n'
           ' public static void Hello() { }\n public static string Name() => "add";\n}\n',
           "class Program { static void Main() { Debug.Assert(Calc.add(2, 2) == 4); } }"),
    "F#": ('let add a b = a + b\nlet name = "add"\n', "assert (add 2 2 = 4)"),
}
CASES.update({language: (answer, re.sub(r"\b[24]\b", "0", tests), tests) for language, (answer, tests) in ADDS.items()})


@requires_sandbox
@pytest.mark.parametrize("language", sorted(CASES))
def test_tests_that_pass_against_a_stub_are_vacuous(language):
    """Without the stub check both test files would count: the answer passes each of them."""
    answer, weak, strong = CASES[language]
    sandbox = Sandbox()

    def weigh(tests: str) -> tuple[str | None, str]:
        async def run(program: str) -> Execution:
            return sandbox.run(language, {"main": program}, test=tests)

        own = sandbox.run(language, {"main": answer}, test=tests)
        assert own.status is Status.PASSED, own
        return asyncio.run(vacuity(run, language, tests, [answer]))

    vacuous, note = weigh(weak)
    assert vacuous and "pass when every function's body is" in vacuous and note == ""
    assert weigh(strong) == (None, "")


def test_languages_without_a_stub_generator_say_so():
    async def run(program: str) -> Execution:
        raise AssertionError("no stub to run")

    answer = "defmodule M do\n  def add(a, b), do: a + b\nend\n"
    assert asyncio.run(vacuity(run, "Elixir", "assert M.add(1, 1) == 2", [answer])) == (
        None, "stub check skipped: no stub generator for Elixir")
    assert asyncio.run(vacuity(run, "Elixir", "IO.puts(M.add(1, 1))", [answer]))[0] == "the tests hold no assertion"


def test_every_language_with_stubs_has_a_case():
    """A language's stubs are checked against a real toolchain only through CASES."""
    assert {lang.name for lang in LANGUAGES if lang.stub_bodies} == set(CASES)
