"""configs/digits-smoke.toml (--no-hardware) run serially and through `--executor ray --jobs 2`, one after
the other on the same machine in the same invocation; wall times, their ratio and whether the two runs'
tables.md are identical go to results/ray/digits-smoke.json (docs/results.md 'Ray').

    .venv/bin/python bench/bench_ray_reproduce.py [--jobs 2] [--out results/ray/digits-smoke.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "digits-smoke.toml"


def _run(out: Path, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "dqhw", "reproduce", str(SMOKE), "--out", str(out), "--no-hardware", "--quiet",
           *extra]
    print(f"bench: {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"),
                   stdout=subprocess.DEVNULL)
    return time.time() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "ray" / "digits-smoke.json"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        load0 = os.getloadavg()[0]
        serial = _run(Path(tmp) / "serial", [])
        ray = _run(Path(tmp) / "ray", ["--executor", "ray", "--jobs", str(a.jobs)])
        same = (Path(tmp) / "serial" / "tables.md").read_text() == (Path(tmp) / "ray" / "tables.md").read_text()
        units = len(list((Path(tmp) / "ray" / "done").glob("*.json")))
    res = {"config": "configs/digits-smoke.toml", "hardware_units": False, "units": units,
           "serial_seconds": round(serial, 1), "ray_seconds": round(ray, 1), "ray_jobs": a.jobs,
           "ratio_serial_over_ray": round(serial / ray, 2), "tables_identical": same,
           "cpus": os.cpu_count(), "load_average_before": round(load0, 2),
           "load_average_after": round(os.getloadavg()[0], 2),
           "note": "one torch thread per unit; the Ray wall time includes starting the local cluster; measured "
                   "on a 2-core machine shared with other jobs (load averages above)",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res), file=sys.stderr)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
