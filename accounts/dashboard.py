"""Dashboard panels that other apps contribute (balance, RPP security, open appeals...).

An app registers ``register_panel(key, template, context_for, order=...)`` in its
AppConfig.ready(). ``context_for(request, business, accounts)`` returns the template's context,
or None to hide the panel; ``accounts`` is the gated queryset of the business's RM accounts the
user may see (Scope.ACCOUNT) — narrow it with the access gate for the panel's own scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.template.loader import render_to_string


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context_for: Callable
    order: int


_PANELS: dict[str, Panel] = {}


def register_panel(key: str, template: str, context_for: Callable, *, order: int = 100) -> None:
    _PANELS[key] = Panel(key, template, context_for, order)


def render_panels(request, business, accounts) -> list[str]:
    rendered = []
    for panel in sorted(_PANELS.values(), key=lambda p: p.order):
        context = panel.context_for(request, business, accounts)
        if context is not None:
            rendered.append(render_to_string(panel.template, context, request=request))
    return rendered
