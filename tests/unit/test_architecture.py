"""The dependency rule, read from the code's imports (every import, including those inside functions).

The arrows point inwards: the domain depends on nothing of ours; the ports on the domain only; services on ports and
the domain; adapters on ports and the domain, never on services; the entry points (worker, api, cli) reach adapters
only through the composition root (`rma.bootstrap`), which is the one module that knows them all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "rma"
DOMAIN = SRC / "domain"
FORBIDDEN = ("celery", "kombu", "redis", "sqlalchemy", "alembic", "psycopg", "fastapi", "httpx", "structlog")
OURS = ("domain", "ports", "services", "adapters", "worker", "api", "cli", "bootstrap", "bench", "demo")

# package -> the packages of ours it must never import
NEVER: dict[str, tuple[str, ...]] = {
    "domain": (*(p for p in OURS if p != "domain"), "config", "policies", "logging", "faults"),
    "ports": ("services", "adapters", "worker", "api", "cli", "bootstrap", "bench", "demo", "config"),
    "services": ("adapters", "worker", "api", "cli", "bootstrap", "bench", "demo", "config", "policies"),
    "adapters": ("services", "worker", "api", "cli", "bootstrap", "bench", "demo"),
    "worker": ("adapters",),
    "api": ("adapters", "worker", "cli"),
    "cli": ("adapters",),
}
# What no layer below the entry points may import from the outside world.
LIBRARIES: dict[str, tuple[str, ...]] = {
    "domain": FORBIDDEN,
    "ports": FORBIDDEN,
    "services": ("celery", "kombu", "redis", "sqlalchemy", "alembic", "psycopg", "fastapi"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from rma import bootstrap` names the module in the alias
            names.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "rma")
    return names


def _ours(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "rma" and len(parts) > 1 else None


def _modules(package: str) -> list[Path]:
    root = SRC / package
    return sorted(root.rglob("*.py")) if root.is_dir() else [SRC / f"{package}.py"]


CASES = [(package, path) for package in NEVER for path in _modules(package)]


@pytest.mark.parametrize(("package", "path"), CASES, ids=[str(p.relative_to(SRC)) for _, p in CASES])
def test_no_arrow_points_outwards(package: str, path: Path) -> None:
    imports = _imports(path)
    wrong = sorted(name for name in imports if _ours(name) in NEVER[package])
    assert not wrong, f"{path.relative_to(SRC)} imports {wrong}"
    libraries = LIBRARIES.get(package, ())
    assert not sorted(name for name in imports if name.split(".")[0] in libraries)


@pytest.mark.parametrize("path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_module_is_pure(path: Path) -> None:
    imports = _imports(path)
    assert not {name for name in imports if name.split(".")[0] in FORBIDDEN}
    assert not {name for name in imports if name.startswith("rma.") and not name.startswith("rma.domain")}


def test_the_rule_would_catch_an_outward_arrow(tmp_path: Path) -> None:
    """The checker itself: an adapter importing a service, inside a function, is seen."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from rma.services.flow import steps_for\n    from rma import bootstrap\n")
    found = {_ours(name) for name in _imports(module)}
    assert {"services", "bootstrap"} <= found


def test_only_the_composition_root_chooses_providers() -> None:
    """Sandbox providers and stand-ins are named in the root (and their own package) only."""
    naming = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if any(name.startswith("rma.adapters.sandbox") for name in _imports(path))
        and not str(path.relative_to(SRC)).startswith(("adapters/", "bootstrap.py"))
    )
    assert naming == []
