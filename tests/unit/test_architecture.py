"""The dependency rule: the domain imports nothing of the outside world and nothing of ours outside itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).parents[2] / "src" / "rma" / "domain"
FORBIDDEN = ("celery", "kombu", "redis", "sqlalchemy", "alembic", "psycopg", "fastapi", "httpx", "structlog")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_module_is_pure(path: Path) -> None:
    imports = _imports(path)
    assert not {name for name in imports if name.split(".")[0] in FORBIDDEN}
    assert not {name for name in imports if name.startswith("rma.") and not name.startswith("rma.domain")}
