"""Whether generated tests are evidence: assertions, stub programs, and the interface the tester is told."""

from __future__ import annotations

import asyncio

import pytest

from polyforge.agents.test_evidence import (as_evidence, assertion_free, shared_interface, stub_programs,
                                            vacuity, without_clashes, without_own_solution)
from polyforge.sandbox import Execution, Sandbox, Status
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
    stubs = stub_programs("Python", PY_BUILTIN)
    assert len(stubs) == 3 and "import math" in stubs[0]
    assert "def total(xs: list[int]) -> int:\n    return None\n" in stubs[0] and "sum(xs)" not in stubs[0]
    assert "def helper():\n    return 0" in stubs[1] and "return []" in stubs[2]
    [rust] = stub_programs("Rust", "fn total(xs: &[i32]) -> i32 { xs.iter().sum() }\n")
    assert rust == "fn total(xs: &[i32]) -> i32 { Default::default() }\n"
    assert stub_programs("JavaScript", "const f = (x) => x * 2;")[0] == "const f = (x) => { return undefined; };"
    assert stub_programs("Go", "package main\nfunc F() int { return 1 }\n") == []  # no stub generator
    assert stub_programs("Python", "print(1)\n") == []  # no function to stub


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
    assert as_evidence(run, None, "stub check skipped: no stub generator for Go").reason == \
        "stub check skipped: no stub generator for Go"
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


# One compiled and three interpreted languages: an answer, tests a stub also passes, tests it fails.
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


@requires_sandbox
@pytest.mark.parametrize("language", sorted(CASES))
def test_tests_that_pass_against_a_stub_are_vacuous(language):
    """Without the stub check both test files would count: the answer passes each of them."""
    answer, weak, strong = CASES[language]
    sandbox = Sandbox()

    def weigh(tests: str) -> tuple[str | None, str]:
        async def run(program: str) -> Execution:
            return sandbox.run(language, {"main": program}, test=tests)

        assert sandbox.run(language, {"main": answer}, test=tests).status is Status.PASSED
        return asyncio.run(vacuity(run, language, tests, [answer]))

    vacuous, note = weigh(weak)
    assert vacuous and "pass when every function's body is" in vacuous and note == ""
    assert weigh(strong) == (None, "")


def test_languages_without_a_stub_generator_say_so():
    async def run(program: str) -> Execution:
        raise AssertionError("no stub to run")

    tests = 'func TestTotal(t *testing.T) { if Total(nil) != 0 { t.Error("want 0") } }'
    assert asyncio.run(vacuity(run, "Go", tests, ["package main\nfunc Total(xs []int) int { return 0 }"])) == (
        None, "stub check skipped: no stub generator for Go")
    assert asyncio.run(vacuity(run, "Go", "func TestTotal(t *testing.T) { Total(nil) }", ["x"]))[0] == \
        "the tests hold no assertion"
