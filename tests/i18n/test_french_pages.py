"""Every page in French, as the demo importer, the demo broker and the admin: no English money.

The demo seed gives every page lived-in data (CADs, statements, payments, credits, appeals,
security notices, audit entries). Each persona starts at the dashboard and follows every link
of the portal's own pages (no API, no PDF or CSV, no Django admin, no logout), a few objects per
route. Every page's text (and its ``title`` / ``aria-label`` attributes) must not hold:

- a ``$`` before a digit ("$1 234,56" or "$1,234.56": French writes "1 234,56 $");
- an amount in English format ("1,234.56", "19360.40"): French writes "1 234,56";
- a Python dict or list of amounts (``{'123456782RM0001': '79000.00'}``);
- a known English phrase of the system-generated texts (ledger lines, notices, audit events).

And the crawl must reach every page route of the access sweep's map (``ROUTES``) that the
demo has data for, so a new page is checked as soon as the demo links to it.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import Resolver404, resolve

from tests.clock import on

pytestmark = pytest.mark.django_db

DAY = "2026-03-18"  # a Wednesday mid-period; the demo seeds its history back from "today"
PER_ROUTE = 3  # objects visited per route (lists with ?page=, three CADs, ...)

SKIP_PREFIXES = ("/api/", "/admin/", "/i18n/", "/logout/", "/static/", "/media/")
SKIP_ROUTES = {
    "logout", "set_language", "billing-statement-pdf", "billing-cad-pdf", "billing-statement-csv",
    "billing-transactions-csv", "appeals:letter", "appeals:document", "cad_upload_progress",
    "schema", "api-docs", "api-redoc", "healthz", "readyz",
    "billing-reconciliation-pdf",  # a PDF, reached after a POST (the reconcile page's export)
    "billing-account-reconcile-latest",  # a redirect to the newest statement's reconcile page
}

DOLLAR_BEFORE_DIGIT = re.compile(r"\$-?\d")
# "1,234.56" anywhere; "1234.56" or "12.50" next to a "$" (a bare "6109.10" is a tariff heading).
ENGLISH_AMOUNT = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+\.\d{2}(?!\d)|\$\s?\d+\.\d{2}(?!\d)|(?<![\d.,])\d+\.\d{2}\s?\$")
# "19360,40": a Decimal printed by the template engine, not through |money (no thousands space).
UNFORMATTED_AMOUNT = re.compile(r"(?<![\d.,])\d{4,},\d{2}(?![\d,])")
PYTHON_DICT = re.compile(r"\{'[^']*': ")
# English left by code that stores or builds text (ledger descriptions, notices, timeline notes,
# audit events). Each phrase was seen on a French page (issue #12).
ENGLISH_PHRASES = [
    "Overpayment", "allowed: credit", "Payment received", "Payment of", "Late payment interest",
    "Interest on", "Opening balance", "Credit applied", "Offset", "Refund to", "Appeal filed",
    "Appeal submitted", "Decision:", "security shortfall", "Bond ", " expires on", "was submitted",
    "was accepted", "was recorded", "delegation.", "membership.", "accounts.", "billing.",
    "appeals.", "declarations.", "rpp.", "If the review were today", "No requirement yet", "against the binding",
    "Shortfall:", "post a bond", "Interest:", "Late payment", "Credit to your account", "Up to",
]


class _Text(HTMLParser):
    """Visible text plus title / aria-label / placeholder attributes; hrefs of links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for name in ("title", "aria-label", "placeholder"):
            if attrs.get(name):
                self.parts.append(attrs[name])

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def problems_in(text: str) -> list[str]:
    """What a French reader should not see in ``text`` (one line per finding)."""
    found = []
    for pattern, what in ((DOLLAR_BEFORE_DIGIT, "$ before a digit"), (ENGLISH_AMOUNT, "English amount"),
                          (UNFORMATTED_AMOUNT, "amount not through |money"), (PYTHON_DICT, "Python dict")):
        for m in pattern.finditer(text):
            found.append(f"{what}: …{text[max(m.start() - 40, 0):m.end() + 20]}…")
    for phrase in ENGLISH_PHRASES:
        at = text.find(phrase)
        if at >= 0:
            found.append(f"English {phrase!r}: …{text[max(at - 40, 0):at + len(phrase) + 30]}…")
    return found


def _route(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name


def start_pages() -> list[str]:
    """The dashboard, then every page route that needs no object (staff pages have no link for a
    BAM; a form page may be reached only by a button)."""
    from django.urls import NoReverseMatch, reverse

    from tests.test_access_sweep import ROUTES

    pages = ["/"]
    for name, route in ROUTES.items():
        if name.startswith("api-") or name in SKIP_ROUTES or route.kind not in ("list", "officer") or route.obj:
            continue
        try:
            pages.append(reverse(name, kwargs=route.extra or None))
        except NoReverseMatch:
            continue
    return pages + object_pages()


def object_pages() -> list[str]:
    """Form pages of an object that only a button leads to (the demo's first object of each)."""
    from django.urls import reverse

    from accounts.models import ClientGroup
    from billing.rpp.models import ReductionRequest
    from declarations.models import CAD

    pages = []
    cad = CAD.objects.filter(status=CAD.Status.ACCEPTED).order_by("pk").first()
    if cad is not None:
        pages.append(reverse("cad_amend", args=[cad.pk]))
    for model, name in ((ClientGroup, "client-group-edit"), (ReductionRequest, "rpp:staff-reduction-decide")):
        obj = model.objects.order_by("pk").first()
        if obj is not None:
            pages.append(reverse(name, args=[obj.pk]))
    return pages


def crawl(client: Client) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(route name -> visited paths, path -> problems) from the start pages, following links."""
    seen: set[str] = set()
    per_route: dict[str, list[str]] = defaultdict(list)
    problems: dict[str, list[str]] = {}
    queue = deque(start_pages())
    while queue:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        route = _route(urlsplit(path).path)
        if route is None or route in SKIP_ROUTES or len(per_route[route]) >= PER_ROUTE:
            continue
        response = client.get(path)
        assert response.status_code < 500, (path, response.status_code)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        per_route[route].append(path)
        parser = _Text()
        parser.feed(response.content.decode())
        text = re.sub(r"\s+", " ", " ".join(parser.parts))
        if found := problems_in(text):
            problems[path] = found
        for href in parser.links:
            href = urldefrag(href).url
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            if parts.path.startswith(SKIP_PREFIXES):
                continue
            queue.append(href)
    return per_route, problems


@pytest.fixture
def demo(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    with on(DAY):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        yield


def _french_client(email: str) -> Client:
    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(email=email))
    client.cookies["django_language"] = "fr"
    return client


# Routes that are no page (POST-only actions: they redirect to a page the crawl checks) or that
# the demo has no object for.
POST_ONLY = {
    "appeals:document-upload", "appeals:extension-decide", "appeals:review-action", "appeals:save",
    "appeals:submit", "appeals:withdraw", "billing-ops-retry", "cad_submit", "delegation-decide",
    "membership-decide", "offsetting:staff-refund-decide", "rpp:enrol", "rpp:recompute", "rpp:withdraw",
    "brokers:remind",
}
NOT_REACHED = {
    **dict.fromkeys(POST_ONLY, "POST only"),
    "password_reset_confirm": "needs a token from an email",
    "cad_upload_status": "needs an upload id",
    "client-group-edit": "the demo has no client group",
    "rpp:staff-reduction-decide": "the demo has no reduction request",
}


def test_french_pages_show_french_money_and_no_english_system_text(demo, french_catalogue):
    from tests.test_access_sweep import ROUTES

    visited: dict[str, list[str]] = defaultdict(list)
    report = []
    for email in ("importer@example.com", "broker@example.com", "admin@example.com"):
        per_route, problems = crawl(_french_client(email))
        for route, paths in per_route.items():
            visited[route] += paths
        report += [f"{email} {path}: {line}" for path, lines in problems.items() for line in lines]
    assert not report, f"{len(report)} problems on French pages:\n" + "\n".join(report)

    pages = {name for name, r in ROUTES.items() if not name.startswith("api-") and name not in SKIP_ROUTES
             and r.kind in ("list", "object", "officer")}
    missing = sorted(pages - set(visited) - set(NOT_REACHED))
    assert not missing, f"page routes the French crawl never reached: {missing}"


def test_the_checks_catch_english_money_and_spare_french_money():
    assert problems_in("Solde : $1 234,56")
    assert problems_in("Solde : 1,234.56 $")
    assert problems_in("Total 19360.40 $")
    assert problems_in("Total 19360,40")
    assert problems_in("{'123456782RM0001': '79000.00'}")
    assert problems_in("Overpayment")
    assert not problems_in("Solde : 1\u00a0234,56\u00a0$ · (12,50\u00a0$) · -3,00\u00a0$ · 2026-03-18 · 1,3650")
