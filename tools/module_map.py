"""The package's layers, checked against its import graph and drawn as the module map on the index page.

`python tools/module_map.py` prints the map (markdown); `python tools/module_map.py --check` exits 1 with
the reasons when a module is missing from `LAYERS`, an import points up a layer, or modules import each
other in a cycle. `tests/test_layers.py` runs the same checks and checks that `nbs/index.ipynb` shows the
current map."""
from __future__ import annotations

import ast, re, sys
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "ssl_workbench"

# Bottom to top: a module may import modules of its own layer (without a cycle) or of the layers below it.
LAYERS: list[tuple[str, str, list[str]]] = [
    ("core", "devices, RNG state, run directories, atomic files, hashes", ["core"]),
    ("data", "datasets as uint8 tensors; JPEG batches; SPARE3D drawings and questions",
     ["data", "jpeg_batches", "spare3d.render", "spare3d.tasks"]),
    ("augment", "batched ops → config → CLSA strong pool, CPU kernels → pipeline",
     ["augment.ops", "augment.config", "augment.strong", "augment.cpu", "augment.pipeline"]),
    ("models", "backbones (ConvNets, ResNets, ViTs)", ["vit", "models"]),
    ("losses", "NT-Xent, InfoNCE, DDM, BYOL, Barlow Twins, VICReg, DINO; gathers across processes",
     ["losses"]),
    ("methods", "one module per method, and the registry", ["methods.*"]),
    ("eval", "measuring a backbone: features, kNN, retrieval, linear, fine-tuning, protocol cards, reports",
     ["eval.features", "eval.knn", "eval.retrieval", "eval.linear", "eval.finetune", "eval.protocol",
      "eval.report", "spare3d.models"]),
    ("train", "config → optim, distributed, checkpoint, init → loop (`fit`)",
     ["train.config", "train.optim", "train.distributed", "train.checkpoint", "train.init", "train.loop"]),
    ("runs", "working on run directories: evaluating a run, exporting its backbone",
     ["eval.run", "export"]),
    ("studies", "quickstart and studies (arms × seeds with intervals) built from runs",
     ["quickstart", "studies", "spare3d.study", "study_defs"]),
    ("ui", "widgets: runs and processes, tuner, launcher, explorers, health, try-config, SPARE3D viewer",
     ["ui.*", "spare3d.viewer"]),
    ("cli", "the `ssl-workbench` command", ["cli"]),
]


def modules() -> dict[str, Path]:
    """Every module of the package (without the package root and nbdev's index), by dotted name under
    `ssl_workbench`."""
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        if p.name in ("_modidx.py", "__init__.py"): continue
        out[".".join(p.relative_to(PKG).with_suffix("").parts)] = p
    return out


def _target(mod: str, node: ast.ImportFrom) -> str:
    if not node.level: return node.module or ""
    base = ["ssl_workbench", *mod.split(".")][:-node.level]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mod: str, path: Path, known: set[str]) -> set[str]:
    "The package modules `mod` imports anywhere in its file (top level or inside functions)."
    deps = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            tgt = _target(mod, node)
            names = [f"{tgt}.{a.name}" for a in node.names] + [tgt]
        elif isinstance(node, ast.Import): names = [a.name for a in node.names]
        else: continue
        for n in names:
            if not n.startswith("ssl_workbench"): continue
            short = n[len("ssl_workbench."):] if n != "ssl_workbench" else ""
            if short in known: deps.add(short); break
            if short == "": deps.add("ssl_workbench (package root)")
    return deps - {mod}


def layer_of(mod: str) -> int | None:
    return next((i for i, (_, _, pats) in enumerate(LAYERS) if any(fnmatch(mod, p) for p in pats)), None)


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imports(m, p, set(mods)) for m, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    "Strongly connected components with more than one module (Tarjan)."
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in g.get(v, ()):
            if w not in g: continue
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in sorted(g):
        if v not in index: visit(v)
    return out


def problems() -> list[str]:
    "Everything wrong with the layering, one line each; empty when the package follows `LAYERS`."
    g, out = graph(), []
    for m in sorted(g):
        if layer_of(m) is None: out.append(f"{m}: in no layer of tools/module_map.py LAYERS")
    for m, deps in sorted(g.items()):
        for d in sorted(deps):
            if d.startswith("ssl_workbench (package root)"):
                out.append(f"{m} imports the package root (read the version with core.package_version)")
                continue
            lm, ld = layer_of(m), layer_of(d)
            if lm is not None and ld is not None and ld > lm:
                out.append(f"{m} ({LAYERS[lm][0]}) imports {d} ({LAYERS[ld][0]}): an upward import")
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(g)]
    return out


def notebook_of(path: Path) -> str:
    m = re.search(r"File to edit: \.\./(?:\.\./)*nbs/(\S+?)\.ipynb", path.read_text()[:2000])
    return m.group(1) if m else "?"


def module_map() -> str:
    "The layers, top first, with each module and the notebook that owns it, as a markdown table."
    mods = modules()
    rows = ["| layer | modules (notebook) | what it holds |", "|---|---|---|"]
    for name, what, pats in reversed(LAYERS):
        members = [m for m in mods if any(fnmatch(m, p) for p in pats)]
        members.sort(key=lambda m: next(i for i, p in enumerate(pats) if fnmatch(m, p)))
        cells = ", ".join(f"`{m}` ({notebook_of(mods[m])})" for m in members)
        rows.append(f"| **{name}** | {cells} | {what} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if "--check" in sys.argv:
        bad = problems()
        print("\n".join(bad) or "ok: every module is in a layer, imports point down, no cycles")
        sys.exit(1 if bad else 0)
    print(module_map())
