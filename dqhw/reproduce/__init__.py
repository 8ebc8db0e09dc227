"""`dqhw reproduce CONFIG`: the paper's claims, measured in software and on the RTL, from one checked-in
config (configs/*.toml) in one resumable command.

- `config`:   load and validate the TOML config (a bad config is one DqhwError line)
- `plan`:     the unit graph: data subset, training runs, evaluations, worst-case sets, builds, RTL
              simulations; stable ids derived from each unit's settings, dependencies, done records
              (written atomically; a finished unit is skipped, an interrupted one redone or resumed)
- `estimate`: the time each unit is expected to take (what `--plan` prints)
- `runner`:   executes the pending units in order through dqhw's own Python APIs, progress lines + ETA
- `verdict`:  the fixed, stated-in-advance rules that turn the numbers into "reproduces" / "does not
              reproduce" / "tie within noise" (noise margin: seed spread + 2 binomial SE)
- `report`:   tables (Markdown), plots (PNG), results.json and report.md from the done records
See docs/reproduce.md.
"""
