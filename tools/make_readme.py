"""Write README.md from nbs/index.ipynb without Quarto (nbdev-readme needs it): markdown cells as they are,
code cells as Python blocks with their saved text outputs; cells flagged `#| hide` are left out."""
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def cell_to_md(cell) -> str:
    src = cell.source.strip()
    if cell.cell_type == "markdown": return src
    if cell.cell_type != "code" or not src: return ""
    lines = src.splitlines()
    flags = " ".join(l for l in lines if l.startswith("#|"))
    if "hide" in flags or "default_exp" in flags: return ""
    code = "\n".join(l for l in lines if not l.startswith("#|"))
    outs = []
    for o in cell.get("outputs", []):
        text = o.get("text") or o.get("data", {}).get("text/plain")
        if text: outs.append("".join(text) if isinstance(text, list) else text)
    out = "\n".join(f"```python\n{code}\n```".splitlines())
    if outs: out += "\n\n```\n" + "".join(outs).rstrip() + "\n```"
    return out


def main(nb=ROOT/"nbs"/"index.ipynb", dest=ROOT/"README.md"):
    book = nbformat.read(nb, as_version=4)
    # paths relative to the root
    parts = [p.replace("](images/", "](nbs/images/") for p in (cell_to_md(c) for c in book.cells) if p]
    text = ("<!-- Generated from nbs/index.ipynb by tools/make_readme.py: "
            "edit the notebook, not this file. -->\n\n" + "\n\n".join(parts) + "\n")
    Path(dest).write_text(text)
    return dest


if __name__ == "__main__":
    print(main(*sys.argv[1:]))
