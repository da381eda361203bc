"""The house rules, checked on the source: imports go downward only, and boto3 stays at the edges.

    handlers -> app -> ingest / alerts / reporting (/ simulator) -> sources / focus -> money -> lake -> config -> times / errors

A module may import its own subpackage and any lower layer; the three feature packages of one layer never
import each other. Only the lake store, the alert publishers, the secret reader and the handler touch boto3.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
LAYERS = {
    "usage_lake.times": 0, "usage_lake.errors": 0, "usage_lake": 0,
    "usage_lake.config": 1,
    "usage_lake.lake": 2,
    "usage_lake.money": 3,
    "usage_lake.sources": 4, "usage_lake.focus": 4,
    "usage_lake.ingest": 5, "usage_lake.alerts": 5, "usage_lake.reporting": 5, "usage_lake.simulator": 5,
    "usage_lake.app": 6,
    "handlers": 7,
}
BOTO3_ALLOWED = {"usage_lake/lake/store.py", "usage_lake/alerts/publishers.py", "usage_lake/config/secrets.py", "handlers/ingest.py"}


def package_of(module: str) -> str:
    parts = module.split(".")
    for length in (2, 1):
        if ".".join(parts[:length]) in LAYERS:
            return ".".join(parts[:length])
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        found.append((name, path))
    return found


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


@pytest.mark.parametrize(("module", "path"), modules(), ids=[name for name, _ in modules()])
def test_imports_go_downward_only(module: str, path: Path) -> None:
    own = package_of(module)
    for target in imports(path):
        if not target.startswith(("usage_lake", "handlers")) or target == "usage_lake" and own == "usage_lake":
            continue
        other = package_of(target)
        if other == own or other == "usage_lake":  # its own package; the version string
            continue
        assert LAYERS[other] < LAYERS[own], f"{module} imports {target}: {other} is not below {own}"


def test_boto3_only_at_the_edges() -> None:
    users = {path.relative_to(SRC).as_posix() for _, path in modules()
             if any(name.split(".")[0] in ("boto3", "botocore") for name in imports(path))}
    assert users <= BOTO3_ALLOWED, f"boto3 imported outside the edges: {sorted(users - BOTO3_ALLOWED)}"


@pytest.mark.parametrize("package", sorted(p for p in LAYERS if p.count(".") == 1 and (SRC / p.replace(".", "/")).is_dir()))
def test_every_subpackage_has_a_face(package: str) -> None:
    init = SRC / package.replace(".", "/") / "__init__.py"
    tree = ast.parse(init.read_text())
    assert ast.get_docstring(tree), f"{package} has no docstring saying what lives there"
    assert any(isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets) for node in tree.body), \
        f"{package} has no __all__"
