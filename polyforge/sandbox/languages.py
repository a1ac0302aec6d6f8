"""The language table: one row per language the sandbox runs.

A row says which file the program goes in, how it is compiled and run, how a test is wired in,
how its failures read (to classify a run), and which Debian or npm package brings its toolchain.
Commands are argument lists run inside the sandbox, in the work folder; `{sources}` expands to
every file of the run with the row's extension.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Node's console.assert only prints; tests written for it (McEval's, many generated ones) expect a
# failed assertion to fail the run, so test runs load this first.
NODE_STRICT_ASSERT = """\
const { AssertionError } = require('assert');
console.assert = (value, ...message) => {
  if (!value) throw new AssertionError({ message: message.length ? message.join(' ') : 'console.assert failed' });
};
"""
NODE_SUPPORT = {".strict_assert.js": NODE_STRICT_ASSERT}

# Compiles what tests need (testing, testify) once, so runs start from a warm build cache.
GO_WARMUP = {
    "main.go": "package main\n\nfunc main() {}\n",
    "main_test.go": 'package main\n\nimport (\n\t"testing"\n\t"github.com/stretchr/testify/assert"\n)\n\n'
                    'func TestWarm(t *testing.T) { assert.Equal(t, 1, 1) }\n',
}

# rackunit's checks outside a test suite print a failure and go on (exit status 0): tests run with a
# check handler that reports the failure and exits 1.
RACKET_TOOLCHAIN = dict(
    run=("racket", "main.rkt"),
    test_run=("racket", "-l", "racket/base", "-l", "rackunit", "-e",
              '(current-check-handler (lambda (e) (eprintf "rackunit check failed~n")'
              ' ((error-display-handler) (exn-message e) e) (exit 1)))',
              "-e", '(dynamic-require (string->path "main.rkt") #f)'),
    hello='#lang racket/base\n(displayln "ok")\n',
    binaries=("racket",), version_command=("racket", "--version"), packages={"apt": ("racket",)},
    min_memory_mb=1024,
    failed_patterns=(r"^rackunit check failed", r"^FAILURE$"),
    syntax_patterns=(r"read-syntax: ", r"\bbad syntax\b", r"unbound identifier"),
    runtime_patterns=(r"^[\w/?!*-]+: contract violation", r"^context\.\.\.:"),
    memory_patterns=(r"out of memory",),
    assertion_patterns=(r"\(check-\S+", r"\(error\b", r"\(raise\b", r"\(exit\s+[1-9]"),
)

JS_FAILED = (r"^AssertionError",)
JS_RUNTIME = (r"^\w*Error\b", r"^Uncaught ")
JS_MEMORY = (r"heap out of memory", r"Fatal process out of memory", r"invalid size error", r"Allocation failed")
JS_SYNTAX = (r"^SyntaxError: ",)
JS_FUNCTIONS = ("function_declaration", "function_expression", "function", "generator_function_declaration",
                "method_definition", "arrow_function")
JS_ASSERTIONS = (r"\bassert\b", r"\bexpect\s*\(", r"\bthrow\b", r"process\.exit\(\s*[1-9]")


@dataclass(frozen=True)
class Toolchain:
    """How the sandbox runs one language: its files, compile and run commands, test wiring and limits."""

    name: str
    aliases: tuple[str, ...]
    source: str                                   # file name of the main program
    run: tuple[str, ...]
    hello: str                                    # prints "ok": the doctor's proof that the toolchain works
    compile: tuple[str, ...] | None = None
    # Test wiring. "append": the test code is appended to the main program (it calls the program's
    # functions, as McEval's tests and most generated tests do). "prepend": the test comes first (a
    # Fortran main program whose `contains` section the program's functions complete). "separate":
    # the test is its own file, `test_source`, next to the program (Go's *_test.go).
    test_wiring: Literal["append", "prepend", "separate"] = "append"
    test_source: str | None = None                # where the program (append) or the test (separate) goes
    test_compile: tuple[str, ...] | None = None   # defaults to `compile`; () for none
    test_run: tuple[str, ...] | None = None       # defaults to `run`
    support_files: dict[str, str] = field(default_factory=dict)  # written next to the program in test runs
    binaries: tuple[str, ...] = ()                # must be on the sandbox PATH
    requires_paths: tuple[str, ...] = ()          # must exist (test libraries); relative: in the toolchain home
    version_command: tuple[str, ...] = ()
    packages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # {"apt": (...), "npm": (...)}
    env: dict[str, str] = field(default_factory=dict)
    # Toolchains that live outside /usr (rustup): a host command printing a folder that is bound
    # read-only at /opt/toolchain/<name>, whose bin/ goes first on PATH.
    home_query: tuple[str, ...] | None = None
    # Host folders outside /usr the toolchain reads (GHC's package database under /var/lib), bound
    # read-only at the same path when they exist.
    host_folders: tuple[str, ...] = ()
    min_memory_mb: int = 0                        # floor for runtimes that reserve a lot (JVM, Go)
    min_processes: int = 0                        # floor for runtimes with many threads
    # Regular expressions (multiline) over stderr + stdout, to classify a non-zero exit.
    failed_patterns: tuple[str, ...] = ()         # a test assertion failed
    runtime_patterns: tuple[str, ...] = ()        # an uncaught error that is not an assertion
    memory_patterns: tuple[str, ...] = ()         # ran out of memory
    syntax_patterns: tuple[str, ...] = ()         # interpreters: the parser rejected the code
    cache_dir: str | None = None                  # a compiler cache the sandbox warms once (Go) ...
    cache_warmup: dict[str, str] = field(default_factory=dict)  # ... by running this trusted program's tests
    # Whether generated tests are evidence (polyforge/agents/test_evidence.py applies these):
    functions: tuple[str, ...] = ()               # tree-sitter node types of a function definition (field `body`)
    # Trivial bodies, one stub program each: every function of the answer gets this body. Tests that pass
    # against a stub are vacuous. Empty: no stub generator for the language (the stub check is skipped).
    stub_bodies: tuple[str, ...] = ()
    assertion_patterns: tuple[str, ...] = ()      # multiline regexes; tests matching none hold no assertion

    @property
    def extension(self) -> str:
        return "." + self.source.rsplit(".", 1)[1]

    def commands(self, testing: bool) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        """(compile, run) for a plain run or a test run."""
        if not testing:
            return self.compile, self.run
        compile_cmd = self.compile if self.test_compile is None else (self.test_compile or None)
        return compile_cmd, (self.test_run or self.run)


LANGUAGES: tuple[Toolchain, ...] = (
    Toolchain(
        name="Python", aliases=("python", "py", "python3"), source="main.py",
        hello="print('ok')",
        run=("python3", "-s", "main.py"),
        binaries=("python3",), version_command=("python3", "--version"), packages={"apt": ("python3",)},
        env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"},
        failed_patterns=(r"^AssertionError",),
        runtime_patterns=(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b", r"^Traceback "),
        memory_patterns=(r"^MemoryError",), syntax_patterns=(r"^(SyntaxError|IndentationError|TabError): ",),
        functions=("function_definition",), stub_bodies=("return None", "return 0", "return []"),
        assertion_patterns=(r"\bassert", r"\braise\b", r"\bexit\(\s*[1-9]", r"pytest\.raises"),
    ),
    Toolchain(
        name="JavaScript", aliases=("javascript", "js", "node"), source="main.js",
        hello="console.log('ok')",
        run=("node", "main.js"), test_run=("node", "--require", "./.strict_assert.js", "main.js"),
        support_files=NODE_SUPPORT, binaries=("node",), version_command=("node", "--version"), min_memory_mb=1024,
        packages={"apt": ("nodejs", "npm")},
        failed_patterns=JS_FAILED, runtime_patterns=JS_RUNTIME, memory_patterns=JS_MEMORY, syntax_patterns=JS_SYNTAX,
        functions=JS_FUNCTIONS, stub_bodies=("{ return undefined; }", "{ return 0; }", "{ return []; }"),
        assertion_patterns=JS_ASSERTIONS,
    ),
    Toolchain(
        name="TypeScript", aliases=("typescript", "ts"), source="main.ts",
        hello="const word: string = 'ok'; console.log(word)",
        compile=("tsc", "--target", "es2020", "--module", "commonjs", "--lib", "es2020,dom", "--types", "node",
                 "--typeRoots", "/opt/toolchain/typescript/@types",
                 "--skipLibCheck", "--strict", "false", "--noEmitOnError", "--outDir", ".", "main.ts"),
        run=("node", "main.js"), test_run=("node", "--require", "./.strict_assert.js", "main.js"),
        support_files=NODE_SUPPORT, binaries=("node", "tsc"), version_command=("tsc", "--version"), min_memory_mb=1024,
        home_query=("npm", "root", "--global"), requires_paths=("@types/node",),  # npm's global folder
        packages={"npm": ("typescript", "@types/node")},
        failed_patterns=JS_FAILED, runtime_patterns=JS_RUNTIME, memory_patterns=JS_MEMORY,
        functions=JS_FUNCTIONS,
        stub_bodies=("{ return undefined as any; }", "{ return 0 as any; }", "{ return [] as any; }"),
        assertion_patterns=JS_ASSERTIONS,
    ),
    Toolchain(
        name="C", aliases=("c",), source="main.c",
        hello='#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n',
        compile=("gcc", "-std=gnu11", "-O1", "-o", "main", "{sources}", "-lm"), run=("./main",),
        binaries=("gcc",), version_command=("gcc", "--version"), packages={"apt": ("gcc", "libc6-dev")},
        failed_patterns=(r"Assertion .* failed",),
        functions=("function_definition",), stub_bodies=("{ return 0; }",),  # void: a warning; a struct: no build
        assertion_patterns=(r"\bassert\s*\(", r"\b(exit|_Exit)\s*\(\s*(EXIT_FAILURE|[1-9])", r"\babort\s*\(",
                            r"\breturn\s+[1-9]"),
    ),
    Toolchain(
        name="C++", aliases=("c++", "cpp", "cxx"), source="main.cpp",
        hello='#include <iostream>\nint main() { std::cout << "ok" << std::endl; }\n',
        compile=("g++", "-std=gnu++17", "-O1", "-o", "main", "{sources}"), run=("./main",),
        binaries=("g++",), version_command=("g++", "--version"), packages={"apt": ("g++",)},
        failed_patterns=(r"Assertion .* failed",), memory_patterns=(r"std::bad_alloc",),
        runtime_patterns=(r"terminate called",),
        functions=("function_definition",),
        assertion_patterns=(r"\bassert\s*\(", r"\b(exit|_Exit)\s*\(\s*(EXIT_FAILURE|[1-9])", r"\babort\s*\(",
                            r"\breturn\s+[1-9]", r"\bthrow\b"),
    ),
    Toolchain(
        name="Java", aliases=("java",), source="Main.java",
        hello='class Main { public static void main(String[] a) { System.out.println("ok"); } }\n',
        # The source-file launcher compiles and runs in one JVM: no class name to guess.
        run=("java", "-ea", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss8m", "Main.java"),
        binaries=("java",), version_command=("java", "-version"), packages={"apt": ("openjdk-17-jdk-headless",)},
        min_memory_mb=1024, min_processes=128,
        failed_patterns=(r"java\.lang\.AssertionError",),
        memory_patterns=(r"java\.lang\.OutOfMemoryError", r"insufficient memory for the Java Runtime"),
        syntax_patterns=(r"^error: compilation failed",), runtime_patterns=(r"^Exception in thread",),
        functions=("method_declaration",),
        assertion_patterns=(r"\bassert\b", r"\bassert\w*\s*\(", r"\bthrow\b", r"System\.exit\(\s*[1-9]"),
    ),
    Toolchain(
        name="Rust", aliases=("rust", "rs"), source="main.rs",
        hello='fn main() { println!("ok"); }\n',
        compile=("rustc", "--edition", "2021", "-O", "-o", "main", "main.rs"), run=("./main",),
        test_compile=("rustc", "--edition", "2021", "--test", "-o", "main", "main.rs"),
        test_run=("./main", "--test-threads", "1"),
        binaries=("rustc",), version_command=("rustc", "--version"), packages={"apt": ("rustc",)},
        home_query=("rustc", "--print", "sysroot"), min_memory_mb=1024, min_processes=128,
        failed_patterns=(r"assertion .*failed", r"^test result: FAILED"),
        memory_patterns=(r"memory allocation of \d+ bytes failed",), runtime_patterns=(r"panicked at",),
        functions=("function_item",), stub_bodies=("{ Default::default() }",),  # the zero value of its type
        assertion_patterns=(r"\b(debug_)?assert(_eq|_ne)?!", r"\bpanic!", r"process::exit\(\s*[1-9]"),
    ),
    Toolchain(
        name="Go", aliases=("go", "golang"), source="main.go",
        hello='package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("ok") }\n',
        compile=("go", "build", "-o", "main", "."), run=("./main",),
        test_wiring="separate", test_source="main_test.go", test_compile=(),
        test_run=("go", "test", "-count=1", "-vet=off", "."),
        binaries=("go",), requires_paths=("/usr/share/gocode/src/github.com/stretchr/testify",),
        version_command=("go", "version"),
        packages={"apt": ("golang-go", "golang-github-stretchr-testify-dev")},
        env={"GOPATH": "/usr/share/gocode", "GO111MODULE": "off", "GOCACHE": "/work/.cache/go-build",
             "GOFLAGS": "-p=2", "CGO_ENABLED": "0"},
        cache_dir=".cache/go-build", cache_warmup=GO_WARMUP, min_memory_mb=2048, min_processes=256,
        failed_patterns=(r"^--- FAIL", r"Error Trace:"), memory_patterns=(r"out of memory",),
        syntax_patterns=(r"\[build failed\]", r"\[setup failed\]"), runtime_patterns=(r"^panic: ",),
        functions=("function_declaration", "method_declaration"),
        assertion_patterns=(r"\bt\.(Error|Errorf|Fatal|Fatalf|Fail|FailNow)\(", r"\b(assert|require)\.\w+\(",
                            r"\bpanic\(", r"os\.Exit\(\s*[1-9]"),
    ),
    Toolchain(
        name="Shell", aliases=("shell", "bash", "sh"), source="main.sh",
        hello="echo ok", run=("bash", "main.sh"),
        binaries=("bash", "bc", "awk"), version_command=("bash", "--version"),
        packages={"apt": ("bash", "bc", "gawk")},
        syntax_patterns=(r"syntax error near unexpected token", r"syntax error: unexpected end of file"),
        functions=("function_definition",),
        assertion_patterns=(r"\bexit\s+[1-9]", r"\|\|\s*(exit|false|return\s+[1-9])"),
    ),
    Toolchain(
        name="Perl", aliases=("perl", "pl"), source="main.pl",
        hello='print "ok\\n";', run=("perl", "main.pl"),
        binaries=("perl",), version_command=("perl", "-e", "print $^V"), packages={"apt": ("perl",)},
        memory_patterns=(r"^Out of memory",),
        syntax_patterns=(r"aborted due to compilation errors", r"^syntax error at"),
        assertion_patterns=(r"\bdie\b", r"\b(ok|is|isnt|like|is_deeply|cmp_ok)\s*\(", r"\bexit\s*\(?\s*[1-9]"),
    ),
    Toolchain(
        name="Ruby", aliases=("ruby", "rb"), source="main.rb",
        hello="puts 'ok'", run=("ruby", "main.rb"),
        binaries=("ruby",), version_command=("ruby", "--version"), packages={"apt": ("ruby",)},
        failed_patterns=(r"AssertionError", r"Minitest::Assertion", r"Test failed"),
        memory_patterns=(r"NoMemoryError", r"failed to allocate memory"),
        syntax_patterns=(r"syntax error", r"\(SyntaxError\)"), runtime_patterns=(r"\(\w+(Error|Exception)\)$",),
        functions=("method", "singleton_method"),
        assertion_patterns=(r"\bassert", r"\braise\b", r"\bexit\s*\(?\s*(false|[1-9])", r"\babort\b"),
    ),
    Toolchain(
        name="PHP", aliases=("php",), source="main.php",
        hello='<?php echo "ok\\n";',
        run=("php", "-d", "zend.assertions=1", "-d", "assert.exception=1", "-d", "display_errors=stderr",
             "-d", "memory_limit=-1", "main.php"),
        binaries=("php",), version_command=("php", "--version"), packages={"apt": ("php-cli",)},
        failed_patterns=(r"AssertionError", r"assert\("), memory_patterns=(r"Allowed memory size", r"Out of memory"),
        syntax_patterns=(r"Parse error: ",), runtime_patterns=(r"Fatal error: ",),
        assertion_patterns=(r"\bassert\s*\(", r"\bthrow\b", r"\bexit\s*\(\s*[1-9]"),
    ),
    Toolchain(
        name="Lua", aliases=("lua",), source="main.lua",
        hello="print('ok')", run=("lua5.4", "main.lua"),
        binaries=("lua5.4",), version_command=("lua5.4", "-v"), packages={"apt": ("lua5.4",)},
        failed_patterns=(r"assertion failed!",), memory_patterns=(r"not enough memory",),
        syntax_patterns=(r"main\.lua:\d+: .*(near|expected)",), runtime_patterns=(r"stack traceback",),
        functions=("function_declaration",),
        assertion_patterns=(r"\bassert\s*\(", r"\berror\s*\(", r"os\.exit\(\s*(false|[1-9])"),
    ),
    Toolchain(
        name="Tcl", aliases=("tcl", "tclsh"), source="main.tcl",
        hello="puts ok", run=("tclsh", "main.tcl"),
        binaries=("tclsh",), version_command=("readlink", "-f", "/usr/bin/tclsh"), packages={"apt": ("tcl",)},
        failed_patterns=(r"Test case \d+ Failed", r"Expected .* but got", r"(?i)assertion failed"),
        memory_patterns=(r"unable to (re)?alloc",),
        syntax_patterns=(r"^missing close-(brace|bracket)", r"^extra characters after close-",),
        runtime_patterns=(r"^\s+while executing",),
        assertion_patterns=(r"\berror\b", r"\bexit\s+[1-9]", r"\bthrow\b"),
    ),
    Toolchain(
        name="Fortran", aliases=("fortran", "f90", "gfortran"), source="main.f90",
        hello="program hello\n  print '(a)', 'ok'\nend program hello\n",
        compile=("gfortran", "-O1", "-ffree-line-length-none", "-o", "main", "{sources}"), run=("./main",),
        test_wiring="prepend",
        binaries=("gfortran",), version_command=("gfortran", "--version"), packages={"apt": ("gfortran",)},
        failed_patterns=(r"(?i)assertion failed", r"(?i)test \S* ?failed"),
        memory_patterns=(r"Allocation would exceed memory limit", r"Operating system error: Cannot allocate memory"),
        runtime_patterns=(r"^Program received signal", r"^Fortran runtime error", r"^ERROR STOP"),
        functions=("function", "subroutine"),
        assertion_patterns=(r"(?i)\berror\s+stop\b", r"(?i)\bstop\s+[1-9]", r"(?i)assert"),
    ),
    Toolchain(
        name="Common Lisp", aliases=("common lisp", "common_lisp", "lisp", "sbcl", "cl"), source="main.lisp",
        hello='(write-line "ok")',
        # SBCL reserves its whole heap up front: size it to fit the data-segment limit.
        run=("sbcl", "--dynamic-space-size", "512MB", "--script", "main.lisp"),
        binaries=("sbcl",), version_command=("sbcl", "--version"), packages={"apt": ("sbcl",)},
        min_memory_mb=1024,
        failed_patterns=(r"The assertion .* failed",), memory_patterns=(r"Heap exhausted",),
        syntax_patterns=(r"READ error during", r"end of file on"), runtime_patterns=(r"^Unhandled \S+",),
        assertion_patterns=(r"\(assert\b", r"\(error\b", r"\(sb-ext:exit\s+:code\s+[1-9]"),
    ),
    Toolchain(
        name="Pascal", aliases=("pascal", "fpc", "delphi"), source="main.pas",
        hello="begin\n  writeln('ok');\nend.\n",
        compile=("fpc", "-Sa", "-O1", "-v0", "-omain", "main.pas"), run=("./main",),
        binaries=("fpc",), version_command=("fpc", "-iV"), packages={"apt": ("fp-compiler", "fp-units-rtl")},
        failed_patterns=(r"EAssertionFailed", r"Assertion failed", r"^Runtime error 227"),
        memory_patterns=(r"EOutOfMemory", r"^Runtime error 203"),
        runtime_patterns=(r"^An unhandled exception occurred", r"^Runtime error \d+"),
        assertion_patterns=(r"(?i)\bassert\s*\(", r"(?i)\bhalt\s*\(\s*[1-9]", r"(?i)\braise\b"),
    ),
    Toolchain(
        name="Elixir", aliases=("elixir", "ex", "exs"), source="main.exs",
        hello='IO.puts("ok")', run=("elixir", "main.exs"),
        binaries=("elixir", "erl"), version_command=("elixir", "--short-version"),
        packages={"apt": ("elixir", "erlang-nox")}, min_memory_mb=1024, min_processes=256,  # the BEAM's threads
        failed_patterns=(r"\d+ tests?, [1-9]\d* failures?", r"Assertion with .* failed"),
        syntax_patterns=(r"\*\* \((CompileError|SyntaxError|TokenMissingError|MismatchedDelimiterError)\)",),
        runtime_patterns=(r"^\*\* \(\w+",),
        memory_patterns=(r"Cannot allocate \d+ bytes of memory", r"eheap_alloc"),
        assertion_patterns=(r"\bassert(_raise|_receive)?\b", r"\braise\b", r"System\.halt\(\s*[1-9]"),
    ),
    Toolchain(
        name="Erlang", aliases=("erlang", "erl"), source="main.erl",  # the module must be named main
        hello='-module(main).\n-export([main/0]).\nmain() -> io:format("ok~n").\n',
        compile=("erlc", "main.erl"),
        run=("erl", "-noshell", "-eval", "main:main(), init:stop()."),
        test_run=("erl", "-noshell", "-eval", "ok = main:test(), init:stop()."),
        binaries=("erlc", "erl"), version_command=("erl", "-noshell", "-eval",
                                                   "io:format(erlang:system_info(otp_release)), halt()."),
        packages={"apt": ("erlang-nox",)}, min_memory_mb=1024, min_processes=256,
        failed_patterns=(r"\{badmatch,", r"\{case_clause,", r"assertEqual_failed", r"assertion_failed"),
        syntax_patterns=(r"main\.erl:\d+:\d*:? syntax error",),
        runtime_patterns=(r"init terminating in do_boot", r"^\{\"init terminating"),
        memory_patterns=(r"Cannot allocate \d+ bytes of memory", r"eheap_alloc"),
        assertion_patterns=(r"\?assert", r"^\s*-?\d+\s*=\s*\w+\(", r"\berror\(", r"\bhalt\(\s*[1-9]"),
    ),
    Toolchain(
        name="R", aliases=("r", "rscript"), source="main.R",
        hello='cat("ok\\n")', run=("Rscript", "--vanilla", "main.R"),
        binaries=("Rscript",), version_command=("Rscript", "--version"), packages={"apt": ("r-base-core",)},
        failed_patterns=(r"is not TRUE", r"are not all TRUE", r"^Error: .*(not equal|stopifnot)"),
        memory_patterns=(r"cannot allocate vector",),
        syntax_patterns=(r"^Error: unexpected ",), runtime_patterns=(r"^Error in ", r"^Error: "),
        assertion_patterns=(r"\bstopifnot\s*\(", r"\bstop\s*\(", r"\bexpect_\w+\(", r"\bquit\(.*status\s*=\s*[1-9]"),
    ),
    Toolchain(
        name="Emacs Lisp", aliases=("emacs lisp", "emacs_lisp", "elisp"), source="main.el",
        hello='(princ "ok\\n")', run=("emacs", "--batch", "-Q", "-l", "./main.el"),
        binaries=("emacs",), version_command=("emacs", "--version"), packages={"apt": ("emacs-nox",)},
        failed_patterns=(r"Assertion failed", r"^Test \S+ condition:"),
        syntax_patterns=(r"End of file during parsing", r"Invalid read syntax"),
        runtime_patterns=(r"definition is void", r"^Debugger entered", r"Wrong type argument"),
        memory_patterns=(r"Memory exhausted",),
        assertion_patterns=(r"\(cl-assert\b", r"\(assert\b", r"\(should\b", r"\(error\b", r"\(kill-emacs\s+[1-9]"),
    ),
    Toolchain(
        name="CoffeeScript", aliases=("coffeescript", "coffee"), source="main.coffee",
        hello="console.log 'ok'", run=("coffee", "main.coffee"),
        binaries=("coffee", "node"), version_command=("coffee", "--version"), min_memory_mb=1024,
        packages={"apt": ("nodejs", "npm"), "npm": ("coffeescript",)},
        failed_patterns=(r"AssertionError",) + JS_FAILED, runtime_patterns=JS_RUNTIME, memory_patterns=JS_MEMORY,
        syntax_patterns=(r"error: (unexpected|missing|unmatched)",),
        assertion_patterns=JS_ASSERTIONS,
    ),
    Toolchain(name="Racket", aliases=("racket", "rkt"), source="main.rkt", **RACKET_TOOLCHAIN),
    # McEval's Scheme tasks are written for Racket (`#lang racket`, rackunit).
    Toolchain(name="Scheme", aliases=("scheme",), source="main.rkt", **RACKET_TOOLCHAIN),
    Toolchain(
        name="Haskell", aliases=("haskell", "hs", "ghc"), source="main.hs",
        hello='main :: IO ()\nmain = putStrLn "ok"\n',
        # -O0: runs are short, and optimising doubles GHC's compile time.
        compile=("ghc", "-O0", "-v0", "-o", "main", "main.hs"), run=("./main",),
        binaries=("ghc",), version_command=("ghc", "--numeric-version"), packages={"apt": ("ghc",)},
        host_folders=("/var/lib/ghc",),  # /usr/lib/ghc/package.conf.d links there
        min_memory_mb=1024,
        failed_patterns=(r"Assertion failed", r"(?i)^main: .*test.*fail"),
        memory_patterns=(r"[Hh]eap exhausted", r"out of memory"),
        syntax_patterns=(r"error: parse error", r"lexical error"),
        runtime_patterns=(r"^main: ", r"CallStack \(from HasCallStack\)"),
        assertion_patterns=(r"\berror\s+\"", r"\bassert\b", r"\bexitWith\s*\(\s*ExitFailure", r"\bexitFailure\b",
                            r"\bthrowIO\b"),
    ),
    Toolchain(
        name="Vim script", aliases=("vim script", "vimscript", "vim", "viml"), source="main.vim",
        hello="put ='ok'\nprint\nqall!\n",
        # Ex mode, silent, no vimrc, viminfo or swap file; `cq` in a test exits with status 1.
        run=("vim", "-u", "NONE", "-i", "NONE", "-n", "-N", "-es", "-S", "main.vim", "-c", "qall!"),
        binaries=("vim",), version_command=("vim", "--version"), packages={"apt": ("vim-nox",)},
        syntax_patterns=(r"^E(10|15|488|580|171|126|193): ",), runtime_patterns=(r"^E\d+: ",),
        assertion_patterns=(r"\bassert_\w+\(", r"\bcq\b", r"\bthrow\b", r"\bcquit\b"),
    ),
)

# Languages McEval covers that no registry this project installs from (Debian, npm, PyPI) brings a
# usable toolchain for without a download at install or run time (none, or one too old for McEval's
# references); `polyforge sandbox doctor` lists them.
UNAVAILABLE: dict[str, str] = {
    "Kotlin": "Debian's kotlin is 1.3.31: 43 of McEval's 50 references compile; 7 use Kotlin 1.4-1.5 "
              "(sumOf, maxOrNull, maxByOrNull, uppercase, ArrayDeque, a trailing comma)",
    "Scala": "Debian's scala is 2.11.12: 49 of McEval's 50 references pass (98%, below the 99% bar); "
             "Scala/5 calls ListBuffer.addAll, which Scala 2.13 added",
    "Julia": "Debian 12 has no julia package (apt-cache policy: no candidate)",
    "Dart": "Debian has no Dart SDK package; the SDK is a download",
    "PowerShell": "Debian has no PowerShell package (Microsoft ships it from its own repository)",
    "Swift": "Debian's 'swift' package is OpenStack's object store; no Swift compiler package",
    "F#": "Debian has no F# compiler (no fsharp, no dotnet SDK package)",
    "Visual Basic": "Debian has no VB.NET compiler (no mono-vbnc, no dotnet SDK package)",
}

_BY_NAME = {alias: lang for lang in LANGUAGES for alias in (lang.name.lower(), *lang.aliases)}


class UnknownLanguage(ValueError):
    pass


def language(name: str) -> Toolchain:
    """The table row for a language name or alias (case-insensitive)."""
    try:
        return _BY_NAME[name.strip().lower()]
    except KeyError:
        known = ", ".join(lang.name for lang in LANGUAGES)
        raise UnknownLanguage(f"unknown language {name!r}; the sandbox knows: {known}") from None
