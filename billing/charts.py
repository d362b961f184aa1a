"""Server-rendered SVG charts: no JavaScript library, no CDN.

The SVG is an accessible image (``role="img"`` with a ``<title>`` and ``<desc>``); pages also
show the same numbers as a data table for screen readers and for anyone who wants the figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from carm_portal.money import format_cad, format_money_short, money_locale

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 16, 50


def nice_ceiling(value: Decimal, ticks: int = 4) -> tuple[Decimal, Decimal]:
    """(axis maximum, step): a round step (1, 2, 2.5 or 5 × 10ⁿ) so ``ticks`` steps cover ``value``."""
    if value <= 0:
        return Decimal(100), Decimal(25)
    raw = float(value) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw:
            break
    step_d = Decimal(str(step))
    return step_d * ticks, step_d


def short_money(value: Decimal) -> str:
    """Axis labels in the reader's language: $0, $950, $12K, $1.5M (FR 0 $, 950 $, 12 k $, 1,5 M $)."""
    return format_money_short(value)


def _n(value: float) -> str:
    return f"{value:.1f}"


def month_label(day: date) -> str:
    """The month's abbreviation from CLDR in the reader's language: "Jul", FR "juill." (never "Jui")."""
    return format_date(day, "MMM", locale=money_locale())


def period_label(period_end: date) -> str:
    """"Jul 2026", FR "juill. 2026"."""
    return format_date(period_end, "MMM y", locale=money_locale())


def bar_chart(points: Sequence[tuple[date, Decimal]], *, title: str, description: str = "",
              chart_id: str = "chart") -> SafeString:
    """A bar chart of (period end, amount) as inline SVG; negative amounts are drawn as zero."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = max((p[1] for p in points), default=Decimal(0))
    axis_max, step = nice_ceiling(top_value)
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = slot * 0.62

    def y_of(amount: Decimal) -> float:
        return TOP + plot_h - float(max(amount, Decimal(0)) / axis_max) * plot_h

    grid = []
    tick = Decimal(0)
    while tick <= axis_max:
        y = y_of(tick)
        grid.append(format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="chart-grid"/>'
            '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text>',
            LEFT, _n(y), WIDTH - RIGHT, _n(y), LEFT - 8, _n(y + 4), short_money(tick),
        ))
        tick += step

    bars = []
    for i, (period, amount) in enumerate(points):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = y_of(amount)
        label = period_label(period)
        year = ""
        if i == 0 or period.month == 1:  # the year under the first bar and under each January
            year = format_html('<text x="{}" y="{}" class="chart-axis chart-year" text-anchor="middle">{}</text>',
                               _n(x + bar_w / 2), HEIGHT - BOTTOM + 34, period.year)
        bars.append(format_html(
            '<g class="chart-bar"><title>{}: {}</title>'
            '<rect x="{}" y="{}" width="{}" height="{}" rx="2"/>'
            '<text x="{}" y="{}" class="chart-axis" text-anchor="middle">{}</text>{}</g>',
            label, format_cad(amount), _n(x), _n(y), _n(bar_w), _n(TOP + plot_h - y),
            _n(x + bar_w / 2), HEIGHT - BOTTOM + 18, month_label(period), year,
        ))

    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-labelledby="{id}-title {id}-desc"'
        ' xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        '{grid}<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" class="chart-baseline"/>{bars}</svg>',
        w=WIDTH, h=HEIGHT, id=chart_id, title=title, desc=description or _summary(points),
        grid=mark_safe("".join(grid)),  # noqa: S308 - each piece built by format_html
        left=LEFT, right=WIDTH - RIGHT, base=TOP + plot_h, bars=mark_safe("".join(bars)),  # noqa: S308
    )


def _summary(points: Sequence[tuple[date, Decimal]]) -> str:
    if not points:
        return _("No data.")
    return format_html_join("; ", "{}: {}", ((period_label(p), format_cad(a)) for p, a in points))
