"""The build's own proof (`dqhw build`'s prove_rtl step): the finished, sealed RTL runs real frames
in Verilator and every output (each logit and the class) is compared with the golden model before
the build may say "done".

Checks, in this order (all of them are run; the first failure is raised as one line):
1. every frame's logits and class equal the golden model's (a design without a class output: its
   logits, the class being the host's, contract.host_class) (a mismatch names the set, the frame,
   the value and the first differing layer, in the same words as `dqhw sim`);
2. no deadlock, tlast on the last beat of each frame;
3. throughput: cycles/frame within 10 % of what the FIFO sizing measured;
4. the simulated files are the sealed ones (rtl/manifest.json): nothing changed after sizing.
Memory files that are missing or unreadable fail earlier, in the simulation itself
(dqhw.simulate.testbench.fresh_run_dir, dqhw.simulate.verilator.readmem_problems).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError, MismatchError
from dqhw.rtlgen.generate import Design, manifest_changes
from dqhw.simulate.protocol import THROUGHPUT_TOLERANCE, sized_interval
from dqhw.simulate.runner import bulk_run, compare, locate_and_describe

MIN_FRAMES = 16


def prove_rtl(build_dir: str | Path, work: str | Path, sets: list[tuple[str, np.ndarray]], golden) -> dict:
    """Simulate the frames of `sets` ([(name, uint8 NHWC images)], run back to back in one
    simulation) through BUILD/rtl and compare with `golden` (a dqhw.golden.GoldenModel).
    FIFO sizing's last compile, in the same `work` folder, is reused when the RTL is unchanged.
    Returns the record for build.json; raises MismatchError (DqhwError for a broken simulation)."""
    build_dir = Path(build_dir)
    rtl_dir = build_dir / "rtl"
    work = Path(work)
    sets = [(n, np.asarray(x, dtype=np.uint8)) for n, x in sets if len(x)]
    images = np.concatenate([x for _, x in sets]) if sets else np.zeros((0,))
    if len(images) < MIN_FRAMES:
        raise DqhwError(f"the RTL proof needs at least {MIN_FRAMES} frames, got {len(images)}")
    ref = golden.run(images)
    res = bulk_run(rtl_dir, work, images)
    has_labels = Design.load(rtl_dir).label_width > 0
    if not has_labels:  # no class output: the host takes the class from the logits (compared exactly)
        res.labels = golden.class_of(res.logits)
    failures: list[str] = []
    rows = []
    offset = 0
    for name, x in sets:
        n = len(x)
        part = _slice(res, offset, n)
        cmp = compare(ref.labels[offset:offset + n], ref.logits[offset:offset + n], part, has_labels=has_labels)
        rows.append({"set": name, "frames": n, "label_mismatches": cmp.label_mismatches,
                     "logit_mismatches": cmp.logit_mismatches, "missing": cmp.missing})
        if not cmp.ok and not res.deadlock:
            _, msg = locate_and_describe(build_dir, work / "locate", name, cmp, x)
            failures.append(msg)
        offset += n
    if res.deadlock:
        failures.append(f"deadlock: no stream moved for the watchdog period ({len(res.logits)} of "
                        f"{len(images)} frames came out)")
    elif not res.tlast_ok:
        failures.append("m_axis_logits tlast is not on the last beat of each frame")
    interval, sized = res.interval(), sized_interval(rtl_dir)
    if interval and sized and interval > sized * (1 + THROUGHPUT_TOLERANCE):
        failures.append(f"throughput: {interval} cycles/frame, the FIFO sizing measured {sized}: FIFO too shallow?")
    changed = manifest_changes(rtl_dir)
    if changed:
        failures.append(f"{rtl_dir / changed[0]} differs from the sealed RTL (rtl/manifest.json)"
                        + (f", and {len(changed) - 1} more files" if len(changed) > 1 else ""))
    record = {
        "frames": int(len(images)), "sets": rows,
        "mismatches": int(sum(r["label_mismatches"] + r["logit_mismatches"] + r["missing"] for r in rows)),
        "cycles_per_frame": interval, "sized_cycles_per_frame": sized, "deadlock": bool(res.deadlock),
        "compile_s": round(float(res.build_s), 1),  # 0: FIFO sizing's last compile was reused
        "compared": "every logit and the class of every frame, RTL (Verilator) vs golden model",
        "passed": not failures,
    }
    if failures:
        raise MismatchError("the build's RTL proof failed: " + failures[0]
                            + (f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""))
    return record


def _slice(res, start: int, n: int):
    """A view of a BulkResult restricted to frames [start, start + n) (labels and logits only)."""
    from dataclasses import replace

    return replace(res, labels=res.labels[start:start + n], logits=res.logits[start:start + n])


__all__ = ["MIN_FRAMES", "prove_rtl"]
