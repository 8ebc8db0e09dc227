"""The Ray cluster dqhw's tasks run on: started here (`ray.init(num_cpus=N)`, no dashboard, a small object
store) or joined (`--address`), task options (CPUs, a GPU, retries) and errors as one line."""

from __future__ import annotations

import os

from dqhw.errors import DqhwError

EXECUTORS = ("local", "ray")
MAX_RETRIES = 3  # a task whose worker process dies (killed, node lost) runs again up to this many times
OBJECT_STORE_BYTES = 100 * 1024**2  # the tasks pass paths and small dicts, never arrays


def _ray():
    try:
        import ray
    except ImportError:
        raise DqhwError("--executor ray needs Ray (pip install ray==2.60.0, pinned in requirements/base.txt)") from None
    return ray


def connect(address: str | None = None, cpus: int | None = None):
    """The `ray` module, connected: an already initialised session is reused (one cluster per process),
    else `address` is joined, else a local cluster of `cpus` CPUs (default: this machine's) is started."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    if cpus is not None and cpus < 1:
        raise DqhwError(f"--jobs must be >= 1, got {cpus}")
    # the driver's source tree must be what the workers import (a checkout run with PYTHONPATH included)
    env = {"env_vars": {k: os.environ[k] for k in ("PYTHONPATH", "DQHW_SYNTH_CACHE") if k in os.environ}}
    kw = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False,
          "runtime_env": env if env["env_vars"] else None}
    try:
        if address:
            ray.init(address=address, **kw)
        else:
            # Ray's own notice that the local cluster it starts has token authentication on (the default,
            # kept): not a problem of the user's, so not a line on their stderr
            import logging

            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
            ray.init(num_cpus=cpus or os.cpu_count() or 1, object_store_memory=OBJECT_STORE_BYTES, **kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DqhwError(f"cannot start or join {where}: {first}") from None
    return ray


GPU_KINDS = ("train", "eval", "attack")  # what --device moves to a GPU (builds, simulations, worst-case sets: CPU)


def task_options(kind: str, device: str = "cpu") -> dict:
    """Resources of one task: one GPU for training, evaluation and attack tasks when the device is cuda,
    else one CPU (builds, simulations, worst-case sets always); retried when its worker dies, not when it
    raises."""
    gpu = kind in GPU_KINDS and device.startswith("cuda")
    return {"num_cpus": 1, "num_gpus": 1 if gpu else 0, "max_retries": MAX_RETRIES, "retry_exceptions": False}


def cluster_device(ray, device: str) -> str:
    """The device a task asks for, checked against the cluster: auto is cuda when the cluster has a GPU;
    cuda where it has none is one error line (its tasks would otherwise wait for a GPU forever)."""
    from dqhw.device import check_name

    gpus = ray.cluster_resources().get("GPU", 0)
    if device == "auto":
        return "cuda" if gpus else "cpu"
    if check_name(device).startswith("cuda") and not gpus:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        raise DqhwError(f"--device {device}: the Ray cluster has no GPU (its resources: {cpus} CPUs)")
    return device


def unwrap(ray, err: Exception, what: str) -> DqhwError:
    """A failed task as one DqhwError line: the unit's own DqhwError as it was raised, a dead worker
    (after its retries) or any other exception named with its type."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, DqhwError):
        cause.args = (f"{what}: {cause}" if what not in str(cause) else str(cause),)
        return cause
    if isinstance(err, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError):
        return DqhwError(f"{what}: its worker process died {MAX_RETRIES + 1} times (Ray retried it {MAX_RETRIES})")
    inner = cause if cause is not None else err
    text = " ".join(str(inner).split())[:300]
    return DqhwError(f"{what}: {type(inner).__name__}: {text}")


def add_arguments(p, jobs_help: str) -> None:
    """`--executor`, `--address` (and `--jobs` where the command has none yet)."""
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local (default): this machine, as before; ray: Ray tasks (--jobs of them side by side "
                        "on a local cluster of --jobs CPUs) or on the cluster at --address")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --executor ray: join this running Ray cluster (e.g. auto, or HOST:6379) instead of "
                        "starting a local one; output folders must be on a file system every node sees")
    if jobs_help:
        p.add_argument("--jobs", type=int, default=None, help=jobs_help)
