"""What the bulk testbench is compiled from (sources, parameters, Verilator flags), shared by both
engines that clock it (cocotb: dqhw.simulate.runner; a bare C++ main: dqhw.simulate.cpp_harness), the
FIFO-sizing variant, and the watchdog every dqhw testbench uses."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from dqhw.rtlgen.generate import Design
from dqhw.simulate import testbench as tb
from dqhw.simulate.verilator import host_march

WATCHDOG_CYCLES = 200_000  # cycles without a beat on any port before a run ends as a deadlock (at least)


@functools.cache
def waves_build_args() -> list[str]:
    """Verilator flags for waveforms: FST when its writer can be compiled (Verilator's FST code needs
    lz4.h, e.g. Debian's liblz4-dev, absent on these machines), else VCD. The simulation writes
    dump.fst / dump.vcd into its run directory."""
    probe = subprocess.run(["c++", "-E", "-x", "c++", "-"], input="#include <lz4.h>\n", capture_output=True,
                           text=True)
    return ["--trace-fst" if probe.returncode == 0 else "--trace", "--trace-structs"]


def rtl_sources(rtl_dir: Path, design: Design) -> list[Path]:
    return [rtl_dir / f for f in design.files]


ENGINES = ("cocotb", "cpp")  # what clocks the bulk testbench
BULK_CXX_OPT = "-O2"  # g++ optimisation of the bulk testbench's model (None: Verilator's default, -Os)
# also compile the bulk model for this machine's CPU (-march=<the host's>): CNV W2A2 +12 % cycles/s
# (docs/simulation.md). The flag names the CPU, so the build stamp changes on another machine and a
# build folder copied there recompiles instead of running an illegal instruction.
BULK_CXX_HOST_ARCH = True


def bulk_cxx_flags() -> str | None:
    """The -CFLAGS of the bulk model (None: Verilator's default -Os, nothing added)."""
    if not BULK_CXX_OPT:
        return None
    arch = host_march() if BULK_CXX_HOST_ARCH else None
    return f"{BULK_CXX_OPT} -march={arch}" if arch else BULK_CXX_OPT


def bulk_build_spec(rtl_dir: Path, design: Design, watchdog: int | None = None, stall_in: int = 0,
                    stall_out: int = 0, waves: bool = False, limits_dir: Path | None = None
                    ) -> tuple[list[Path], dict, list[str]]:
    """(sources, parameters, Verilator args) of the bulk testbench build: equal specs share one build.
    `limits_dir`: the FIFO-sizing variant (run-time FIFO capacities, testbench_verilog(fifo_limits=True)),
    its testbench written there rather than into the RTL folder."""
    if watchdog is None:
        watchdog = max(WATCHDOG_CYCLES, 10 * int(design.expected_cycles_per_frame))
    text = tb.testbench_verilog(design, fifo_limits=limits_dir is not None)
    tb_file = (limits_dir if limits_dir is not None else rtl_dir) / "tb_dqhw_accel.v"
    if not tb_file.is_file() or tb_file.read_text() != text:
        tb_file.parent.mkdir(parents=True, exist_ok=True)
        tb_file.write_text(text)
    params = {"WATCHDOG": watchdog, "STALL_IN": stall_in, "STALL_OUT": stall_out}
    # cocotb only touches clk and done (marked public in the testbench): without public access to
    # every other signal Verilator optimizes the whole design (~8x faster here)
    build_args = ["--no-public-flat-rw", "-O3"] + (waves_build_args() if waves else [])
    if limits_dir is not None:
        build_args.append("+define+DQHW_FIFO_LIMIT")
    elif bulk_cxx_flags():
        # the build's last compile is reused by its proof and by every `dqhw sim` of the build: g++ -O2
        # instead of Verilator's default -Os for the model (after OPT_FAST on the command line, so it
        # wins); CNV W2A2: +13 % cycles/s for +14 % compile time, and +12 % more for the host's -march
        # (docs/simulation.md). The sizing trials' compile (short runs) keeps -Os.
        build_args += ["-CFLAGS", bulk_cxx_flags()]
    return rtl_sources(rtl_dir, design) + [tb_file], params, build_args


def bulk_build_dir(build_dir: Path, engine: str = "cocotb") -> Path:
    """Where a build keeps its compiled bulk testbench: written by the build (the compile its FIFO
    sizing and proof ran on), reused by every `dqhw sim` of it while the RTL is unchanged (the build
    stamp hashes the sources)."""
    return Path(build_dir) / "sim" / ("bulk-build" if engine == "cocotb" else f"bulk-build-{engine}")
