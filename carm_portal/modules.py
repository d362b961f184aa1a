"""Optional per-app modules (demo data, beat schedules): import them if the app provides one."""

import importlib
from types import ModuleType


def import_optional(name: str) -> ModuleType | None:
    """The module, or None if it does not exist; an import error *inside* it still raises."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
