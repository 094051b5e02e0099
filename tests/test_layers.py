"""The layering of the package: a module never imports (at the top or inside a function) from a
higher layer. Layers, lowest first:

    errors <- media <- models <- vision/audio <- shots/people/story/mood <- pipeline/eval
        <- archive <- search/report and the glue above the archive (analysis, batch, summaries, slideshow)
        <- api/web/cli, and the package's own functions (reelscope/__init__.py)

Modules of one layer may import each other. ``from reelscope import __version__`` is allowed
anywhere (a constant)."""
from __future__ import annotations

import ast
from pathlib import Path

import reelscope

ROOT = Path(reelscope.__file__).parent
LAYERS = [
    {"errors"},
    {"media"},
    {"models"},
    {"vision", "audio"},
    {"shots", "people", "story", "mood"},
    {"pipeline", "eval"},
    {"archive"},
    {"search", "report", "analysis", "batch", "summaries", "slideshow"},
    {"api", "web", "cli", "__init__"},
]
RANK = {name: k for k, layer in enumerate(LAYERS) for name in layer}


def _component(path: Path) -> str:
    """The top-level part of reelscope a file belongs to: a subpackage, a module, or __init__."""
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level part of reelscope) of every reelscope import in the file."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])  # for relative imports
    return _imports_in(path.read_text(encoding="utf-8"), package, str(path))


def _imports_in(text: str, package: str, name: str = "<text>") -> list[tuple[int, str]]:
    tree = ast.parse(text, name)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            if base == "reelscope":
                names = [f"reelscope.{a.name}" for a in node.names if a.name != "__version__"]
            else:
                names = [base]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "reelscope" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts)


def test_every_part_of_the_package_has_a_layer():
    parts = {_component(p) for p in _modules()}
    assert parts - set(RANK) == set(), "give these a layer in tests/test_layers.py"
    assert len(parts) > 20


def test_no_module_imports_from_a_higher_layer():
    bad = []
    for path in _modules():
        here = _component(path)
        for line, there in _imports(path):
            if RANK.get(there, len(LAYERS)) > RANK[here]:
                bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {here} imports {there}")
    assert bad == []


def test_the_check_sees_lazy_relative_and_package_imports():
    text = ("from reelscope import __version__\n"
            "import numpy\n"
            "def load():\n"
            "    from reelscope.archive.mood_io import ArchiveMusicCache\n"
            "    import reelscope.search.query\n"
            "    from reelscope import analysis, errors\n"
            "    from ..archive import schema\n"
            "    from . import circle\n")
    assert _imports_in(text, "reelscope.mood") == [(4, "archive"), (5, "search"), (6, "analysis"), (6, "errors"),
                                                   (7, "archive"), (8, "mood")]
