"""`--device` of train, eval, attack and reproduce: cpu, cuda[:N] or auto (cuda when torch sees one, else
cpu), checked once up front so that asking for an absent GPU is one error line, not a traceback mid-run.
Evaluation and attacks craft their adversarial images on the device (a copy of the model there); every
prediction they count stays on the CPU, so a CPU run is exactly what it was before."""

from __future__ import annotations

import copy
import re

from dqhw.errors import DqhwError

DEVICE_HELP = "cpu, cuda[:N] or auto (cuda when torch sees a GPU, else cpu)"


def resolve_device(name: str) -> str:
    """'cpu' or 'cuda[:N]' for `name`, or a DqhwError line when CUDA is asked for and absent."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if check_name(name) == "cpu":
        return name
    if not torch.cuda.is_available():
        why = "torch was built without CUDA" if torch.version.cuda is None else "torch sees no GPU"
        raise DqhwError(f"--device {name}: no CUDA device available on this machine ({why}; torch "
                        f"{torch.__version__})")
    index = int(name.split(":")[1]) if ":" in name else 0
    if index >= torch.cuda.device_count():
        raise DqhwError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return name


def check_name(name: str) -> str:
    """`name` if it is cpu, cuda or cuda:N (not resolved: for a device on another machine)."""
    if name != "cpu" and not re.fullmatch(r"cuda(:\d+)?", name or ""):
        raise DqhwError(f"--device must be cpu, cuda[:N] or auto, got {name!r}")
    return name


class OnDevice:
    """Copies of models on one device, made once per model (the model itself on the CPU)."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._copies: dict[int, object] = {}

    def __call__(self, model):
        if self.device == "cpu":
            return model
        if id(model) not in self._copies:
            self._copies[id(model)] = (model, copy.deepcopy(model).to(self.device))
        return self._copies[id(model)][1]
