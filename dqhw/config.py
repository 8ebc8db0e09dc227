"""TrainConfig: every `dqhw train` option, 1:1, saved with the run as config.json."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.quant import QuantSpec, parse_bits

# Per-dataset defaults used when --epochs / --lr are not given.
DEFAULT_EPOCHS = {"digits": 30, "cifar10": 60, "svhn": 30}
ADV_MODES = ("none", "rfgsm", "pgd")
SCHEDULES = ("step", "cifar-step", "cosine")
DQ_TARGETS = ("weight", "bn-folded")
DEFAULT_BETA = 2e-3  # the paper's best (Appendix B); full precision (--bits fp --wbits fp) defaults to 0
DISTILL_ALPHA = 0.5  # --distill T: loss = (1 - a) CE(y) + a T^2 KL(teacher_T || student_T)


@dataclass
class TrainConfig:
    model: str = "tiny"
    dataset: str = "digits"
    data_dir: str | None = None
    bits: str = "2"  # activation bits 1..5 (up to 8) or "fp"
    wbits: str = "2"  # weight bits 1..8 or "fp"
    act: str = "relu6"
    input_bits: str | None = None  # quantize the input pixels to this many bits inside the network (None: off)
    width: float = 1.0
    # DQ strength; None = the default: 2e-3 (the paper's best, Appendix B) for quantized models, 0 for full
    # precision (--bits fp --wbits fp), whose DQ variant needs an explicit --beta. 0 = vanilla
    beta: float | None = None
    reg_every: int = 1  # apply the regularizer lazily every k steps with k x its gradient
    # what the regularizer orthogonalizes: the latent conv/linear weight (the paper) or the BN-folded weight
    # gamma/sigma * W that conv + BN applies (beyond the paper, opt-in)
    dq_target: str = "weight"
    epochs: int | None = None
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    clip_grad: float = 5.0  # max gradient norm (0 = off); keeps 1-bit QAT stable
    # step: the paper's SVHN schedule (x0.1 at 50 % and 75 % of the epochs); cifar-step: its CIFAR-10 one
    # (x0.2 at 30 %, 60 % and 80 %: epochs 60/120/160 of 200); cosine
    schedule: str = "step"
    warmup_epochs: int = 0  # linear LR warm-up over the first N epochs (per step), then the schedule
    weight_scaling: str = "per-tensor"  # or per-channel (every layer followed by BatchNorm)
    first_last_bits: str | None = None  # weight bits of the first conv and the classifier (None: --wbits)
    act_range: str = "fixed"  # fixed (the paper's ReLU6/ReLU1 range) or learned (a trained range)
    init: str | None = None  # start from this run's weights (e.g. a full-precision run)
    distill: float | None = None  # knowledge distillation from the --init run's logits at this temperature
    adv: str = "none"  # adversarial training: rfgsm or pgd (eps ~ clip(|N(0, 8)|, 0, 16))
    seed: int = 0
    device: str = "cpu"
    out: str | None = None
    extra: dict = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        spec = self.quant_spec()  # raises on bad bits / act / levers
        if self.beta is None:
            self.beta = self.resolved_beta
        from dqhw.data import DATASETS
        from dqhw.models import model_names

        if self.model not in model_names():
            raise DqhwError(f"unknown model {self.model!r}; choose one of {', '.join(model_names())}")
        if self.dataset not in DATASETS:
            raise DqhwError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.beta < 0:
            raise DqhwError(f"--beta must be >= 0, got {self.beta}")
        if self.dq_target not in DQ_TARGETS:
            raise DqhwError(f"--dq-target must be one of {', '.join(DQ_TARGETS)}, got {self.dq_target!r}")
        if self.reg_every < 1:
            raise DqhwError(f"--reg-every must be >= 1, got {self.reg_every}")
        if self.epochs is not None and self.epochs < 1:
            raise DqhwError(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise DqhwError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.lr <= 0:
            raise DqhwError(f"--lr must be > 0, got {self.lr}")
        if self.schedule not in SCHEDULES:
            raise DqhwError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.adv not in ADV_MODES:
            raise DqhwError(f"--adv must be one of {', '.join(ADV_MODES)}, got {self.adv!r}")
        if self.width <= 0:
            raise DqhwError(f"--width must be > 0, got {self.width}")
        if not isinstance(self.warmup_epochs, int) or self.warmup_epochs < 0:
            raise DqhwError(f"--warmup-epochs must be an integer >= 0, got {self.warmup_epochs}")
        if self.warmup_epochs >= self.total_epochs:
            raise DqhwError(f"--warmup-epochs ({self.warmup_epochs}) must be smaller than --epochs "
                            f"({self.total_epochs})")
        if spec.act_bits is None and self.act_range != "fixed":
            raise DqhwError(f"--act-range {self.act_range} needs quantized activations (--bits 1..8), "
                            "not --bits fp")
        if self.first_last_bits is not None and spec.weight_bits is None:
            raise DqhwError("--first-last-bits needs quantized weights (--wbits 1..8), not --wbits fp")
        if spec.weight_bits is None and self.weight_scaling != "per-tensor":
            raise DqhwError(f"--weight-scaling {self.weight_scaling} needs quantized weights (--wbits 1..8)")
        if self.distill is not None:
            if self.init is None:
                raise DqhwError("--distill needs --init RUN (the teacher whose logits are distilled)")
            if not self.distill > 0:
                raise DqhwError(f"--distill (temperature) must be > 0, got {self.distill}")
        if self.init is not None:
            init = Path(self.init)
            if not (init / "checkpoint.pt").is_file():
                raise DqhwError(f"--init {self.init}: not a trained run (no checkpoint.pt)")
        return self

    @property
    def full_precision(self) -> bool:
        spec = self.quant_spec()
        return spec.act_bits is None and spec.weight_bits is None

    @property
    def resolved_beta(self) -> float:
        """--beta as given, else 0 for full precision and the paper's 2e-3 for quantized models."""
        if self.beta is not None:
            return float(self.beta)
        return 0.0 if self.full_precision else DEFAULT_BETA

    def label(self) -> str:
        """A short human label: 'fp', 'fp+dq', 'A2W2 vanilla', 'A1W2 DQ' (+ levers)."""
        spec = self.quant_spec()
        dq = self.resolved_beta > 0
        if spec.act_bits is None and spec.weight_bits is None:
            return "fp+dq" if dq else "fp"
        a = "fp" if spec.act_bits is None else str(spec.act_bits)
        w = "fp" if spec.weight_bits is None else str(spec.weight_bits)
        levers = self.lever_tags()
        return f"A{a}W{w} {'DQ' if dq else 'vanilla'}" + (f" ({', '.join(levers)})" if levers else "")

    def lever_tags(self) -> list[str]:
        """The non-default model levers, as short tags (also used in run_name)."""
        tags = []
        if self.weight_scaling == "per-channel":
            tags.append("pc")
        if self.first_last_bits is not None:
            tags.append(f"fl{self.first_last_bits}")
        if self.act_range == "learned":
            tags.append("alearn")
        if self.dq_target == "bn-folded" and self.resolved_beta > 0:
            tags.append("bnfold")
        return tags

    def quant_spec(self) -> QuantSpec:
        from dqhw.quant import ACT_RANGES

        if self.act not in ACT_RANGES:
            raise DqhwError(f"--act must be one of {', '.join(ACT_RANGES)}, got {self.act!r}")
        from dqhw.quant import ACT_RANGE_KINDS, WEIGHT_SCALINGS

        if self.weight_scaling not in WEIGHT_SCALINGS:
            raise DqhwError(f"--weight-scaling must be one of {', '.join(WEIGHT_SCALINGS)}, "
                            f"got {self.weight_scaling!r}")
        if self.act_range not in ACT_RANGE_KINDS:
            raise DqhwError(f"--act-range must be one of {', '.join(ACT_RANGE_KINDS)}, got {self.act_range!r}")
        first_last = None
        if self.first_last_bits is not None:
            first_last = parse_bits(self.first_last_bits, "--first-last-bits", 2)
            if first_last is None:
                raise DqhwError("--first-last-bits must be an integer 2..8, got 'fp' (float layers cannot be built)")
        return QuantSpec(
            act_bits=parse_bits(self.bits, "--bits"),
            weight_bits=parse_bits(self.wbits, "--wbits"),
            act=self.act,
            input_bits=parse_bits(self.input_bits, "--input-bits") if self.input_bits is not None else None,
            weight_scaling=self.weight_scaling,
            first_last_bits=first_last,
            act_range=self.act_range,
        )

    @property
    def total_epochs(self) -> int:
        return self.epochs if self.epochs is not None else DEFAULT_EPOCHS.get(self.dataset, 30)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["epochs"] = self.total_epochs
        d["beta"] = self.resolved_beta
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise DqhwError(f"{path}: not a readable dqhw config.json ({type(e).__name__})") from None

    def run_name(self) -> str:
        tag = "fp" if self.quant_spec().act_bits is None else f"a{self.bits}"
        wtag = "wfp" if self.quant_spec().weight_bits is None else f"w{self.wbits}"
        dq = self.resolved_beta > 0
        adv = "" if self.adv == "none" else f"-{self.adv}"
        inp = "" if self.input_bits is None else f"-in{self.input_bits}"
        levers = "".join(f"-{t}" for t in self.lever_tags())
        if self.full_precision:  # "fp" or "fp+dq": no bit tags, no vanilla/dq suffix
            return f"{self.model}-{self.dataset}-{'fp+dq' if dq else 'fp'}{inp}{adv}-s{self.seed}"
        reg = "dq" if dq else "vanilla"
        return f"{self.model}-{self.dataset}-{tag}{wtag}{inp}{levers}-{reg}{adv}-s{self.seed}"
