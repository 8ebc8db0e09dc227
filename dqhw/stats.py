"""The noise statistics every verdict uses (dqhw reproduce and dqhw mechanism): the seed spread of one
cell and the binomial standard error of a difference of two accuracies. How a rule combines them is the
rule's own, fixed in its config (reproduce: both spreads added; mechanism: the larger spread)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def seed_spread(values: Sequence[float]) -> float:
    """max - min over the seeds of one cell; 0 with one seed."""
    return max(values) - min(values) if len(values) > 1 else 0.0


def binomial_se(p1: float, n1: int, p2: float, n2: int) -> float:
    """Standard error of p1 - p2 for two accuracies measured on n1 and n2 images (clamped at 0 for
    proportions a float sum left a hair outside [0, 1])."""
    return math.sqrt(max(p1 * (1 - p1), 0.0) / n1 + max(p2 * (1 - p2), 0.0) / n2)
