"""What a build step gets besides the model: the build's configuration (fixed when the build starts)
and the small typed record of what the steps learned that the graph cannot hold (the output scale,
the verification, the FIFO sizing, the RTL proof ...). The report and build.json read the record;
the pipeline saves it next to every intermediate model (intermediate/NN_step.record.json), so a
build can restart from any step (`dqhw build --start-step`)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class BuildRecord:
    """What the steps learned; every field is read by a later step, the report or build.json."""

    num_classes: int = 0  # load_graph: the width of the `logits` output
    # float logits = integer logits * output_scale + output_bias: floats (one for every class), or lists
    # of one per class when the class is taken on the host (class_on "host", contract.host_class)
    output_scale: float | list[float] = 1.0
    output_bias: float | list[float] = 0.0
    class_on: str = "accelerator"
    finn_folded: str | None = None  # dqhw_nodes: the folded finn graph (an oracle of verify), relative path
    folding: dict = field(default_factory=dict)  # dqhw_nodes: folding_config.json
    verification: dict = field(default_factory=dict)  # verify
    fifo_sizing: dict = field(default_factory=dict)  # size_fifos: written as rtl/fifo_sizing.json by generate_rtl
    rtl: dict = field(default_factory=dict)  # build.json's `rtl`: the sized RTL, its proof, the board package
    synthesis: dict | None = None  # synthesize (report: estimated vs synthesized)
    place_route: dict | None = None  # place_route (ECP5 boards)
    refolds: int = 0  # check_fit: how many times the folding was searched again
    refold: str | None = None  # check_fit: why the folding must be searched again (None: it fits)
    glue_reserve: dict | None = None  # check_fit: FIFO + width-converter cost the next search keeps free
    warnings: list[str] = field(default_factory=list)

    def class_affine(self) -> tuple[list[float], list[float]] | None:
        """(scale, bias) per class when the host takes the class (no LabelSelect), else None."""
        if self.class_on != "host":
            return None
        return list(self.output_scale), list(self.output_bias)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> BuildRecord:
        return cls(**json.loads(Path(path).read_text()))


@dataclass
class BuildConfig:
    """The build's fixed inputs (set before the first step) plus its record."""

    source: object  # dqhw.flow.source.GraphSource: the graph, its input convention, frames, the run (if any)
    board: object  # dqhw.boards.Board
    out: Path  # the (temporary) build directory
    clock_ns: float
    target_fps: int | None
    folding_file: Path | None
    opts: object  # dqhw.flow.pipeline.BuildOptions
    budget: object  # dqhw.folding.search.Budget
    finn: object = None  # finn's DataflowBuildConfig
    t_start: float = 0.0  # when the build started (time.time())
    progress: object = None  # callable(str) for progress lines inside a step, or None
    record: BuildRecord = field(default_factory=BuildRecord)

    @property
    def run(self):
        return self.source.run

    @property
    def log_path(self) -> Path:
        return self.out / "build.log"
