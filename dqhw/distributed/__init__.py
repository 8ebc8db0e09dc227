"""Ray as dqhw's distributed engine (`--executor ray`): a local cluster by default, `--address` for an
existing one.

- `cluster`: connecting (or starting the local cluster), task resources and retries, one-line errors
- `sim`:     `dqhw sim BUILD --executor ray`: the shards of one simulation as Ray tasks, merged as today
- `attack`:  `dqhw attack ... --executor ray`: the shards of one adversarial set as Ray tasks, merged
`dqhw reproduce --executor ray` submits its unit graph through `dqhw.reproduce.ray_runner`.
Every task writes into folders that the driver and the workers share (one machine, or a shared file
system on a cluster); nothing large travels through Ray's object store.
"""
