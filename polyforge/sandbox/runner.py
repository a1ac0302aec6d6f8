"""Run a program (and optionally its tests) in the sandbox: write files, compile, run, classify."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from polyforge.sandbox.classify import classify
from polyforge.sandbox.compile_cache import CompileCache
from polyforge.sandbox.execution import Execution, Limits, Status
from polyforge.sandbox.isolation import SANDBOX_PATH, TOOLCHAIN_ROOT, RawResult, SandboxUnavailable, run_step
from polyforge.sandbox.languages import Toolchain, language

class BadRunInput(ValueError):
    """Files that cannot make a run (bad names); the message says which and why."""


class Toolchains:
    """Per-language facts found on this machine once: the toolchain folder and version."""

    def __init__(self) -> None:
        self._homes: dict[str, str | None] = {}
        self._versions: dict[str, str] = {}
        self._lock = threading.RLock()

    def home(self, lang: Toolchain) -> str | None:
        if lang.home_query is None and lang.home_package is None:
            return None
        key = lang.home_package or " ".join(lang.home_query or ())  # rows sharing a toolchain folder ask once
        with self._lock:
            if key not in self._homes:
                self._homes[key] = _package_folder(lang.home_package) if lang.home_package \
                    else _host_output(lang.home_query or ())
            return self._homes[key]

    def version(self, lang: Toolchain) -> str:
        with self._lock:
            if lang.name not in self._versions:
                command = list(lang.version_command)
                if command:  # the toolchain the sandbox sees, not whatever comes first on our PATH
                    command[0] = shutil.which(command[0], path=self.host_path(lang)) or command[0]
                found = _host_output(command, merge_stderr=True) if command else _package_version(lang.home_package)
                self._versions[lang.name] = found or "unknown"
            return self._versions[lang.name]

    def library_folder(self, lang: Toolchain) -> str | None:
        """The host folder of the row's library package (None: the row has none, or it is not installed)."""
        if lang.library_package is None:
            return None
        with self._lock:
            if lang.library_package not in self._homes:
                self._homes[lang.library_package] = _package_folder(lang.library_package)
            return self._homes[lang.library_package]

    def binds(self, lang: Toolchain) -> dict[str, str]:
        home, libraries = self.home(lang), self.library_folder(lang)
        binds = {home: _mount(lang)} if home else {}
        if libraries:
            binds[libraries] = f"{TOOLCHAIN_ROOT}/libraries/{lang.library_package}"
        binds.update({folder: folder for folder in lang.host_folders if os.path.isdir(folder)})
        return binds

    def host_path(self, lang: Toolchain) -> str:
        """The sandbox's PATH as host folders: where its binaries are found from outside."""
        home = self.home(lang)
        return f"{home}/bin:{SANDBOX_PATH}" if home else SANDBOX_PATH

    def path(self, lang: Toolchain) -> str:
        home = self.home(lang)
        return f"{_mount(lang)}/bin:{SANDBOX_PATH}" if home else SANDBOX_PATH


def _mount(lang: Toolchain) -> str:
    """Where the sandbox sees the language's toolchain folder."""
    return f"{TOOLCHAIN_ROOT}/{lang.home_name or lang.name.lower()}"


def _host_output(command: list[str] | tuple[str, ...], merge_stderr: bool = False) -> str | None:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout + (done.stderr if merge_stderr else "")).strip()
    return text if done.returncode == 0 and text else None


def _package_folder(package: str) -> str | None:
    spec = importlib.util.find_spec(package)
    return spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else None


def _package_version(package: str | None) -> str | None:
    """The version of the distribution that brings `package` (a toolchain from PyPI)."""
    if package is None:
        return None
    for distribution in importlib.metadata.packages_distributions().get(package, []):
        return f"{distribution} {importlib.metadata.version(distribution)}"
    return None


def _checked_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or len(path.parts) != 1 or name.startswith("."):
        raise BadRunInput(f"file name {name!r} must be a plain name without folders, not starting with '.'")
    return name


DEFAULT_COMPILE_CACHE_MB = 512


class Sandbox:
    """Runs code in isolation; safe to share between threads.

    `compile_cache_mb`: room for compiled programs of identical sources under `cache_root`/compiled, so a
    run of sources compiled before skips the compiler (0: always compile).
    """

    def __init__(self, limits: Limits | None = None, cache_root: Path | None = None,
                 compile_cache_mb: int = DEFAULT_COMPILE_CACHE_MB):
        self.limits = limits or Limits()
        self.toolchains = Toolchains()
        # Per user, never a shared temp folder: another account must not plant a compiler cache.
        self._cache_root = cache_root or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
            "polyforge" / "sandbox"
        self._warm_lock = threading.Lock()
        self.compile_cache_mb = compile_cache_mb
        self._compile_cache: CompileCache | None = None
        self._compile_cache_lock = threading.Lock()

    def run(self, language_name: str, files: Mapping[str, str], limits: Limits | None = None,
            test: str | None = None) -> Execution:
        """Run a program; with `test`, run it with that test code wired in (see the language table).

        `files` maps file names to contents; the first is the main program and is stored under the
        language's main file name, the others (modules, headers) keep their names.
        """
        lang = language(language_name)
        if not files:
            raise BadRunInput("a run needs at least one file")
        limits = (limits or self.limits).at_least(lang.min_memory_mb, lang.min_processes)
        workspace = self._layout(lang, files, test)
        try:
            return self._run_in(lang, workspace, limits, testing=test is not None)
        except SandboxUnavailable as exc:
            return Execution(Status.SANDBOX_ERROR, None, "", str(exc), 0.0, language=lang.name, reason=str(exc))

    def _layout(self, lang: Toolchain, files: Mapping[str, str], test: str | None) -> dict[str, str]:
        names = list(files)
        main = files[names[0]]
        layout = {_checked_name(name): files[name] for name in names[1:]}
        layout.update(lang.compat_files)
        if test is None:
            layout[lang.source] = main
        elif lang.test_wiring == "append":
            layout[lang.test_source or lang.source] = main.rstrip("\n") + "\n\n" + test
            layout.update(lang.support_files)
        elif lang.test_wiring == "prepend":
            layout[lang.test_source or lang.source] = test.rstrip("\n") + "\n\n" + main
            layout.update(lang.support_files)
        else:
            layout[lang.source] = main
            layout[lang.test_source] = test
            layout.update(lang.support_files)
        if lang.preamble and lang.source in layout:
            layout[lang.source] = lang.preamble + layout[lang.source]
        return layout

    def _run_in(self, lang: Toolchain, layout: dict[str, str], limits: Limits, testing: bool) -> Execution:
        compile_cmd, run_cmd = lang.commands(testing)
        with tempfile.TemporaryDirectory(prefix="polyforge-run-") as tmp:
            workdir = Path(tmp)
            for name, content in layout.items():
                (workdir / name).write_text(content, encoding="utf-8")
            if lang.cache_dir:
                self._seed_cache(lang, workdir / lang.cache_dir)
            sources = sorted(name for name in layout if name.endswith(lang.extension) and not name.startswith("."))
            seconds = 0.0
            compiled_before = False
            if compile_cmd:
                command = _expand(compile_cmd, sources)
                cache = self.compile_cache()
                key = None if cache is None else \
                    cache.key(lang.name, self.toolchains.version(lang), command, lang.env, layout)
                compiled_before = cache is not None and key is not None and _restored(cache, key, workdir)
                if not compiled_before:
                    # the compiler writes the host work folder, where the run step finds what it made
                    raw = self._step(lang, workdir, command, limits.for_compile(), private_work=False)
                    seconds += raw.seconds
                    status, reason = classify(lang, raw, limits.for_compile(), compiling=True, testing=testing)
                    if status is not Status.PASSED:
                        return _execution(lang, status, reason, raw, seconds)
                    if cache is not None and key is not None:
                        cache.store(key, workdir, set(layout), skip=lang.cache_dir)
            raw = self._step(lang, workdir, _expand(run_cmd, sources), limits)
            seconds += raw.seconds
            status, reason = classify(lang, raw, limits, compiling=False, testing=testing)
            execution = _execution(lang, status, reason, raw, seconds)
            execution.compiled_before = compiled_before
            return execution

    def compile_cache(self) -> CompileCache | None:
        """The cache of compiled programs, opened at the first compile (None when switched off)."""
        if self.compile_cache_mb <= 0:
            return None
        with self._compile_cache_lock:
            if self._compile_cache is None:
                self._compile_cache = CompileCache(self._cache_root / "compiled", self.compile_cache_mb)
            return self._compile_cache

    def _step(self, lang: Toolchain, workdir: Path, command: list[str], limits: Limits,
              private_work: bool = True) -> RawResult:
        env = {"PATH": self.toolchains.path(lang), **lang.env}
        return run_step(command, workdir, limits, env, self.toolchains.binds(lang), private_work)

    def _seed_cache(self, lang: Toolchain, target: Path) -> None:
        """Copy the language's warm compiler cache into the run (each run gets its own copy)."""
        warm = self._warm_cache(lang)
        if warm is not None:
            shutil.copytree(warm, target, dirs_exist_ok=True)

    def _warm_cache(self, lang: Toolchain) -> Path | None:
        version = self.toolchains.version(lang)
        digest = hashlib.sha256(version.encode()).hexdigest()[:12]
        folder = self._cache_root / f"{lang.name.lower()}-{digest}"
        with self._warm_lock:
            if (folder / ".complete").exists():
                return folder
            if not lang.cache_warmup:
                return None
            # Warm it with our own trusted program, in the sandbox, then keep the cache it left.
            with tempfile.TemporaryDirectory(prefix="polyforge-warm-") as tmp:
                workdir = Path(tmp)
                for name, content in lang.cache_warmup.items():
                    (workdir / name).write_text(content, encoding="utf-8")
                limits = Limits(cpu_seconds=300, wall_seconds=300, memory_mb=4096, processes=512)
                # on the host work folder: the cache it leaves there is what we keep
                raw = self._step(lang, workdir, list(lang.test_run), limits, private_work=False)
                if raw.exit_code != 0:
                    return None
                if folder.exists():
                    shutil.rmtree(folder)
                folder.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(workdir / lang.cache_dir, folder)
            (folder / ".complete").touch()
            return folder


def _restored(cache: CompileCache, key: str, workdir: Path) -> bool:
    """Whether the run's compiled program came from the cache; an unreadable entry means compiling again."""
    try:
        return cache.restore(key, workdir)
    except (tarfile.TarError, OSError):
        return False


def _expand(command: tuple[str, ...], sources: list[str]) -> list[str]:
    out: list[str] = []
    for part in command:
        out.extend(sources if part == "{sources}" else [part])
    return out


def _execution(lang: Toolchain, status: Status, reason: str, raw: RawResult, seconds: float) -> Execution:
    return Execution(status=status, exit_code=raw.exit_code, stdout=raw.stdout.decode("utf-8", "replace"),
                     stderr=raw.stderr.decode("utf-8", "replace"), seconds=round(seconds, 4), language=lang.name,
                     reason=reason, truncated=raw.output_overflow)
