"""Clean layers: a Django app (a folder with an ``apps.py``) imports only apps in lower layers.

The order is written in docs/architecture-layers.md; this test is its enforcement. It reads every
module's imports with ``ast`` (function-level imports too, which is where cycles used to hide) and
fails on an import of a higher or same-layer app, and on an app no layer names.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. An app may import apps of the layers below its own, never above or beside.
LAYERS: list[set[str]] = [
    {"carm_portal"},                        # settings, calendar, money, conf, outbox, pdf, reference tables
    {"accounts"},                           # businesses, RM accounts, users, roles, the access gate, audit
    {"billing.ledger"},                     # the ledger, posting, the interest engine
    {"declarations"},                       # CADs: post their charges to the ledger
    {"billing"},                            # the cycle, statements, payments (reads CADs for statements)
    {"billing.rpp", "billing.offsetting"},  # security and offsetting: built on statements and payments
    {"appeals"},                            # re-determinations and penalties: read everything below
    {"brokers"},                            # the broker command centre: reads every app
]
LAYER_OF = {app: n for n, apps in enumerate(LAYERS) for app in apps}
SKIPPED_TOP = {"tests", "bench", "scripts", ".venv", "node_modules", "docs", "locale", "static", "templates"}


def _apps() -> list[str]:
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in ROOT.glob("**/apps.py")
        if p.relative_to(ROOT).parts[0] not in SKIPPED_TOP
    }
    return sorted(found, key=len, reverse=True)  # deepest first: billing.ledger before billing


APPS = _apps()


def _app_of(module: str) -> str | None:
    return next((a for a in APPS if module == a or module.startswith(a + ".")), None)


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # ``from billing import ledger`` imports the ledger app
                yield node.lineno, f"{node.module}.{alias.name}"


def upward_imports(root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted(root.glob("**/*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIPPED_TOP or "migrations" in rel.parts:
            continue
        source_app = _app_of(".".join(rel.with_suffix("").parts))
        if source_app is None:
            continue
        for lineno, module in _imports(ast.parse(path.read_text(), str(rel))):
            target = _app_of(module)
            if target is None or target == source_app:
                continue
            if LAYER_OF[target] >= LAYER_OF[source_app]:
                bad.append(f"{rel}:{lineno} {source_app} imports {module} ({target} is not below it)")
    return sorted(set(bad))


def test_every_app_has_a_layer():
    assert set(APPS) == set(LAYER_OF), "place new apps in LAYERS and docs/architecture-layers.md"


def test_no_app_imports_an_app_above_or_beside_it():
    assert upward_imports() == []


def test_the_check_catches_an_upward_import(tmp_path):
    """The check itself can fail: a ledger module that imports billing is reported."""
    for app in ("billing", "billing/ledger"):
        (tmp_path / app).mkdir(parents=True, exist_ok=True)
        (tmp_path / app / "apps.py").write_text("")
    (tmp_path / "billing" / "ledger" / "services.py").write_text(
        "def f():\n    from billing.models import Statement\n"
    )
    global APPS
    saved, APPS = APPS, ["billing.ledger", "billing"]
    try:
        found = upward_imports(tmp_path)
    finally:
        APPS = saved
    assert found == [
        "billing/ledger/services.py:2 billing.ledger imports billing.models.Statement (billing is not below it)"
    ]
