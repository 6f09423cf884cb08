"""The layering rules of DESIGN.md, checked on the source with ``ast`` (no vmc module is run).

Layers, lowest first: ``utils < io, geometry < body, text < motion, render < lwg < subject, data
< systems, pipeline < tasks < demo < cli`` (:data:`vmc.utils.import_graph.LAYERS`). Checked:

(a) the plain-``nn.Module`` layers import neither Lightning, Hydra nor OmegaConf, nor the
    training/config/CLI/demo side of vmc (``systems``, ``tasks``, ``demo``, ``cli``, ``data``,
    ``pipeline``);
(b) no layer imports a layer above it;
(c) no import cycle between vmc modules;
(d) ``vmc/__main__.py`` stays a few lines (the commands live in ``vmc.cli``);
(e) every function-level import says why it is one: a comment on its line or the line above
    (a heavy optional dependency, an import cycle), or, in ``vmc.cli``, the module docstring's
    rule that handlers import their work so that ``--help`` stays instant;
(f) every document the code cites is in the repository: each ``docs/<name>.md`` path (and its
    ``#section`` anchor) in the code, configs and docs resolves, and no module cites a document
    kept outside the repository.

Imports inside functions count as much as module-level ones (a lazy import hides a dependency,
it does not remove it). The checks that fail until the other refactor branches are merged are
``xfail(strict=True)``: when the branch lands they pass, strict turns that into a failure, and
the mark is removed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from vmc.utils.import_graph import (
    FRAMEWORK_LAYERS,
    FRAMEWORKS,
    LAYERS,
    PURE_LAYERS,
    ImportGraph,
    cycles,
    layer_of,
    scan_package,
    upward_imports,
)

VMC = Path(__file__).resolve().parents[1] / "vmc"
ROOT = VMC.parent
#: Where a citation of a document may stand.
CITING = ("vmc", "tests", "bench", "examples", "conf", "docs")
#: ``docs/<name>.md`` with an optional ``#anchor``.
DOC_REF = re.compile(r"\bdocs/([\w./-]+?\.md)(?:#([\w-]+))?")
#: A relative Markdown link between pages of ``docs/``: ``](name.md#anchor)``.
DOC_LINK = re.compile(r"\]\(([\w./-]+?\.md)(?:#([\w-]+))?\)")
#: Documents of the outside design notes (split so that this file does not cite them itself).
OUTSIDE_DOC = re.compile(r"\bspecs" + r"/[\w.-]+")


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return scan_package(VMC)


def _listing(imports: list) -> str:
    return "\n".join(str(i) for i in imports)


def test_every_module_is_in_a_layer(graph: ImportGraph) -> None:
    """A new top-level module or package must be given a layer before the rules can hold."""
    assert not [m for m in graph.modules if layer_of(m) is None]


@pytest.mark.parametrize("layer", PURE_LAYERS)
def test_pure_layers_import_no_framework(graph: ImportGraph, layer: str) -> None:
    """(a) geometry/body/text/motion/render/lwg/io/subject: plain modules and functions."""
    bad = [
        i
        for i in graph.imports
        if layer_of(i.source) == layer
        and (i.target in FRAMEWORKS or (i.internal and layer_of(i.target) in FRAMEWORK_LAYERS))
    ]
    assert not bad, f"{layer} imports the framework side:\n{_listing(bad)}"


@pytest.mark.parametrize("layer", LAYERS)
def test_no_upward_import(graph: ImportGraph, layer: str) -> None:
    """(b) a layer imports itself and the layers below only."""
    bad = [i for i in upward_imports(graph) if layer_of(i.source) == layer]
    assert not bad, f"{layer} imports a higher layer:\n{_listing(bad)}"


def test_no_import_cycle(graph: ImportGraph) -> None:
    """(c) strongly connected components over module- and function-level imports."""
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_main_is_a_few_lines() -> None:
    """(d) ``python -m vmc`` only hands over to ``vmc.cli.main``."""
    lines = (VMC / "__main__.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 30


def test_every_lazy_import_says_why(graph: ImportGraph) -> None:
    """(e) Imports belong at the module top unless a comment (or the CLI rule) says otherwise."""
    bad = []
    for imp in graph.imports:
        if not imp.in_function:
            continue
        path = graph.modules[imp.source]
        lines = path.read_text(encoding="utf-8").splitlines()
        if imp.source.startswith("vmc.cli."):
            if "--help" not in (ast.get_docstring(ast.parse("\n".join(lines))) or ""):
                bad.append(f"{imp} (a vmc.cli module whose docstring does not state the rule)")
            continue
        here, above = lines[imp.line - 1], lines[imp.line - 2].strip()
        if "#" not in here and not above.startswith("#"):
            bad.append(str(imp))
    assert not bad, "function-level imports without a reason:\n" + _listing(bad)


# ------------------------------------------------------------------------- cited documents


def _citing_files() -> list[Path]:
    suffixes = {".py", ".yaml", ".md", ".txt", ".toml"}
    return sorted(
        path
        for folder in CITING
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix in suffixes
    )


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page (lower case, punctuation dropped, ``-``)."""
    anchors = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def _unresolved(page: Path, anchor: str | None) -> str | None:
    if not page.is_file():
        return "no such file"
    if anchor and anchor not in _anchors(page):
        return f"no section #{anchor}"
    return None


def test_cited_docs_exist() -> None:
    """(f) ``docs/<name>.md[#section]`` in code, configs, tests and docs names a real section."""
    bad = []
    for path in _citing_files():
        text = path.read_text(encoding="utf-8")
        found = [(ROOT / "docs" / name, anchor) for name, anchor in DOC_REF.findall(text)]
        if path.suffix == ".md":  # relative links between Markdown pages
            found += [(path.parent / name, anchor) for name, anchor in DOC_LINK.findall(text)]
        for page, anchor in found:
            why = _unresolved(page, anchor or None)
            if why:
                bad.append(f"{path.relative_to(ROOT)}: {page.relative_to(ROOT)}#{anchor}: {why}")
    assert not bad, "citations that do not resolve:\n" + "\n".join(bad)


def test_no_document_outside_the_repository_is_cited() -> None:
    """(f) Conventions are written in the docstrings or in ``docs/``; a cited design note that
    is not a file of this repository is a dead end for a reader."""
    bad = [
        f"{path.relative_to(ROOT)}: {ref}"
        for path in _citing_files()
        for ref in OUTSIDE_DOC.findall(path.read_text(encoding="utf-8"))
        if not (ROOT / ref).is_file()
    ]
    assert not bad, "documents cited from outside the repository:\n" + "\n".join(bad)


def test_anchor_rule_matches_github() -> None:
    """The anchor rule used above, on headings like the ones in ``docs/``."""
    page = ROOT / "docs" / "conventions.md"
    assert {"hmr-image-frame-and-camera", "uv-layout-uv-renders-and-textures"} <= _anchors(page)


# --------------------------------------------------------------- the checker on a known package


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_finds_upward_imports_cycles_and_lazy_imports(tmp_path: Path) -> None:
    """The checks above can fail: a tiny package with one of each violation."""
    root = _write(
        tmp_path / "vmc",
        {
            "__init__.py": "",
            "body/__init__.py": "",
            "body/model.py": "from . import grid\n",
            "body/grid.py": (
                "def f():\n    from vmc.render.preview import x\n    from . import model\n"
            ),
            "render/__init__.py": "",
            "render/preview.py": (
                "from typing import TYPE_CHECKING\n"
                "import torch.nn\n"
                "from vmc.body import model\n"
                "if TYPE_CHECKING:\n    from vmc.tasks import infer\n"
            ),
            "tasks/__init__.py": "",
            "tasks/infer.py": "import lightning\nfrom omegaconf import DictConfig\n",
        },
    )
    graph = scan_package(root)
    assert set(graph.modules) == {
        "vmc", "vmc.body", "vmc.body.model", "vmc.body.grid", "vmc.render",
        "vmc.render.preview", "vmc.tasks", "vmc.tasks.infer",
    }  # fmt: skip
    found = {(i.source, i.target, i.in_function, i.type_checking) for i in graph.imports}
    assert found == {
        ("vmc.body.model", "vmc.body.grid", False, False),  # `from . import grid`: the module
        ("vmc.body.grid", "vmc.render.preview", True, False),
        ("vmc.body.grid", "vmc.body.model", True, False),
        ("vmc.render.preview", "typing", False, False),
        ("vmc.render.preview", "torch", False, False),
        ("vmc.render.preview", "vmc.body.model", False, False),
        ("vmc.render.preview", "vmc.tasks.infer", False, True),
        ("vmc.tasks.infer", "lightning", False, False),
        ("vmc.tasks.infer", "omegaconf", False, False),
    }
    up = {(i.source, i.target) for i in upward_imports(graph)}
    assert up == {
        ("vmc.body.grid", "vmc.render.preview"),
        ("vmc.render.preview", "vmc.tasks.infer"),
    }
    # body.model -> body.grid -> (lazily) body.model, and grid -> preview -> model -> grid; the
    # TYPE_CHECKING import of tasks does not close a cycle.
    assert cycles(graph) == [["vmc.body.grid", "vmc.body.model", "vmc.render.preview"]]
