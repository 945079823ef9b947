"""The package's layers (tools/module_map.py): every module in a layer, imports only down or sideways without
a cycle, and the index page shows the map of the package as it is."""
import importlib.util, json, re


def _module_map(root):
    spec = importlib.util.spec_from_file_location("module_map", root/"tools"/"module_map.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_imports_follow_the_layers(root):
    assert _module_map(root).problems() == []


def test_checker_sees_upward_imports_and_cycles(root):
    mm = _module_map(root)
    g = {"core": {"train.loop"}, "train.loop": {"core"}}
    assert mm.cycles(g) == [["core", "train.loop"]]
    assert mm.layer_of("core") < mm.layer_of("train.loop") < mm.layer_of("cli")
    assert mm.layer_of("not_a_module") is None


def test_index_shows_the_current_module_map(root):
    nb = json.loads((root/"nbs"/"index.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    shown = re.search(r"<!-- module map: python tools/module_map.py -->\n(.*?)\n<!-- end module map -->",
                      text, re.S)
    assert shown, "nbs/index.ipynb has no module map block"
    assert shown.group(1).strip() == _module_map(root).module_map().strip(), \
        "the module map in nbs/index.ipynb is stale: paste the output of `python tools/module_map.py`"
