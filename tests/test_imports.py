"""The import graph of dqhw (every `import`, also those inside functions): no module imports itself
through others, the lower layers never import the higher ones; and no new function over 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "dqhw"
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _imports(path: Path, mods: dict[str, Path]) -> set[str]:
    """The dqhw modules `path` imports (a package's __init__ counts only when nothing deeper matches)."""
    out = set()
    me = _module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for n in names:
            while n and n not in mods:
                n = n.rpartition(".")[0]
            if n and n.startswith("dqhw") and n != me and n != "dqhw":
                out.add(n)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {m: _imports(p, mods) for m, p in mods.items()}
    # importing a.b.c runs a.b's __init__ too, but the __init__ files here import nothing: drop package edges
    return {m: {d for d in deps if not (mods[d].name == "__init__.py" and m.startswith(d + "."))}
            for m, deps in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycles():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# a module of the left never imports one of the right (the engine below the commands that use it)
LAYERS = {
    "dqhw.contract": tuple(f"dqhw.{m}" for m in ("flow", "rtlgen", "hlsgen", "simulate", "simsession", "board",
                                                   "golden", "customop", "commands")),
    "dqhw.rtlgen": ("dqhw.simulate", "dqhw.simsession", "dqhw.flow", "dqhw.board", "dqhw.commands"),
    "dqhw.hlsgen": ("dqhw.simulate", "dqhw.simsession", "dqhw.flow", "dqhw.board", "dqhw.commands"),
    "dqhw.simulate": ("dqhw.simsession", "dqhw.flow", "dqhw.board", "dqhw.commands", "dqhw.reproduce"),
    "dqhw.simsession": ("dqhw.flow", "dqhw.commands", "dqhw.reproduce"),
    "dqhw.board": ("dqhw.flow", "dqhw.simsession", "dqhw.commands", "dqhw.reproduce"),
    "dqhw.flow": ("dqhw.simsession", "dqhw.commands", "dqhw.reproduce"),
    "dqhw.transforms": ("dqhw.flow", "dqhw.simulate", "dqhw.simsession", "dqhw.board", "dqhw.commands"),
    "dqhw.folding": ("dqhw.flow", "dqhw.simulate", "dqhw.simsession", "dqhw.board", "dqhw.commands"),
}


def test_lower_layers_do_not_import_higher_ones():
    bad = []
    for m, deps in _graph().items():
        for low, high in LAYERS.items():
            if m == low or m.startswith(low + "."):
                bad += [f"{m} -> {d}" for d in deps if d.startswith(high) and not d.startswith(low)]
    assert not bad, "imports against the layers: " + ", ".join(sorted(bad))


# the functions still over the limit (issue 25, item 6): this list only shrinks. A function that is
# split must leave it (the test says so); a new long function fails.
LONG_FUNCTIONS = {
    "dqhw/customop/mvau.py:finalize", "dqhw/evaluate.py:sanity_checks",
    "dqhw/evaluate.py:evaluate", "dqhw/evaluate.py:markdown", "dqhw/golden.py:_compile",
    "dqhw/hlsgen/generate.py:generate_hls", "dqhw/reproduce/plan.py:make_plan", "dqhw/reproduce/report.py:write_plots",
    "dqhw/train.py:train",
}


def test_no_new_function_over_80_lines():
    long = {}
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = n
    new = sorted(f"{k} ({n} lines)" for k, n in long.items() if k not in LONG_FUNCTIONS)
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines: " + "; ".join(new)
    gone = sorted(LONG_FUNCTIONS - set(long))
    assert not gone, f"no longer over {MAX_FUNCTION_LINES} lines, take them off LONG_FUNCTIONS: {', '.join(gone)}"


def test_no_package_over_12_percent_of_the_code():
    lines = {p: len(p.read_text().splitlines()) for p in PKG.rglob("*.py")}
    total = sum(lines.values())
    share = {d.name: sum(n for p, n in lines.items() if d in p.parents) / total
             for d in PKG.iterdir() if (d / "__init__.py").is_file()}
    big = {k: round(100 * v, 1) for k, v in share.items() if v > 0.12}
    assert not big, f"packages over 12 % of dqhw's {total:,} lines: {big}"
