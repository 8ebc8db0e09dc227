"""The mechanism experiment (issue 23): is DQ's regularizer orthogonalizing, does it shrink the error
amplification, and is quantization then a defense? Config (config.py), stages (runner.py), measurements
(measure.py), pre-registered rules (verdict.py), report and plots (report.py)."""
