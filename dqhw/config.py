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
SCHEDULES = ("step", "cosine")


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
    beta: float = 2e-3  # the paper's best (Appendix B); 0 = vanilla
    reg_every: int = 1  # apply the regularizer lazily every k steps with k x its gradient
    epochs: int | None = None
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    clip_grad: float = 5.0  # max gradient norm (0 = off); keeps 1-bit QAT stable
    schedule: str = "step"  # the paper's: x0.1 at 50 % and 75 % of the epochs
    adv: str = "none"  # adversarial training: rfgsm or pgd (eps ~ clip(|N(0, 8)|, 0, 16))
    seed: int = 0
    device: str = "cpu"
    out: str | None = None
    extra: dict = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        spec = self.quant_spec()  # raises on bad bits / act
        del spec
        from dqhw.data import DATASETS
        from dqhw.models import model_names

        if self.model not in model_names():
            raise DqhwError(f"unknown model {self.model!r}; choose one of {', '.join(model_names())}")
        if self.dataset not in DATASETS:
            raise DqhwError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.beta < 0:
            raise DqhwError(f"--beta must be >= 0, got {self.beta}")
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
        return self

    def quant_spec(self) -> QuantSpec:
        from dqhw.quant import ACT_RANGES

        if self.act not in ACT_RANGES:
            raise DqhwError(f"--act must be one of {', '.join(ACT_RANGES)}, got {self.act!r}")
        return QuantSpec(
            act_bits=parse_bits(self.bits, "--bits"),
            weight_bits=parse_bits(self.wbits, "--wbits"),
            act=self.act,
            input_bits=parse_bits(self.input_bits, "--input-bits") if self.input_bits is not None else None,
        )

    @property
    def total_epochs(self) -> int:
        return self.epochs if self.epochs is not None else DEFAULT_EPOCHS.get(self.dataset, 30)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["epochs"] = self.total_epochs
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
        reg = "dq" if self.beta > 0 else "vanilla"
        adv = "" if self.adv == "none" else f"-{self.adv}"
        inp = "" if self.input_bits is None else f"-in{self.input_bits}"
        return f"{self.model}-{self.dataset}-{tag}{wtag}{inp}-{reg}{adv}-s{self.seed}"
