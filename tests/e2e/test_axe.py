"""Accessibility and phone layout in Chromium, on every page the demo personas reach.

For the demo importer, the demo broker (acting for its client) and the demo admin (a CBSA officer
and a superuser), in English and in French, every page is loaded once and checked twice without a
reload: at 1366 px and at 390 px wide (the media queries apply on resize). At each width axe-core
(npm ``axe-core``, installed by ``make js-deps``, injected by the test driver as a context init
script: the DevTools protocol adds it before the page's own scripts and outside the portal's CSP,
which allows no inline script) must report no serious or critical violation (nor an empty table
header, nor two landmarks with one name); at 390 px the page must also be no wider than the
viewport (``document.documentElement.scrollWidth``). One browser, one login per persona.
Run time (2 cores, SQLite): about 2 minutes for the four personas' 124 page loads.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import IN_CI
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDE, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}
BLOCKING = {"serious", "critical"}
# Lesser rules that fail too: the issue named the first; the second guards the table regions' names.
ALSO_FAILING = {"empty-table-header", "landmark-unique"}

# The pages every signed-in importer or broker (acting for a client) opens from the nav and forms.
COMMON = [
    "/", "/business/", "/users/", "/delegations/", "/business/join/", "/password/change/",
    "/declarations/", "/declarations/new/", "/declarations/upload/",
    "/billing/", "/billing/transactions/", "/billing/payments/",
    "/security/", "/offsetting/", "/appeals/",
]
IMPORTER_ONLY = ["/audit/", "/delegations/grant/", "/business/edit/"]
BROKER_ONLY = ["/switch-account/", "/delegations/request/", "/brokers/delegations/bulk/"]
# The staff nav's pages, and a sample of the Django admin (index, lists, a change form).
STAFF = [
    "/", "/billing/ops/", "/appeals/review/", "/security/staff/reductions/", "/offsetting/staff/refunds/",
    "/password/change/",
    "/admin/", "/admin/accounts/business/", "/admin/accounts/business/add/", "/admin/ledger/ledgerentry/",
    "/admin/billing/statement/", "/admin/declarations/cad/", "/admin/appeals/appeal/",
]
PUBLIC = ["/login/", "/password/reset/"]

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5), count: v.nodes.length,
  }));
}"""
WIDTHS = """() => {
  const vw = window.innerWidth;
  const clipped = e => { for (let a = e.parentElement; a; a = a.parentElement) {
    if (["auto", "scroll", "hidden"].includes(getComputedStyle(a).overflowX) && a !== document.body
        && a !== document.documentElement) return true; } return false; };
  const name = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\\s+/).join(".") : "");
  const wide = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > vw + 1 && !clipped(e));
  return {scroll: document.documentElement.scrollWidth, viewport: vw, widest: wide.slice(-3).map(name)};
}"""


@pytest.fixture
def axe_source():
    if not AXE.exists():
        message = f"{AXE} is missing: run `make js-deps` (npm ci)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


@pytest.fixture
def demo(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def _detail_pages(email: str) -> list[str]:
    """One detail page of each kind the user's business has (CAD, appeal, penalty, statement, RM security)."""
    from accounts.models import ProgramAccount
    from appeals.models import Appeal, Penalty
    from billing.models import Statement
    from declarations.models import CAD

    mine = {"program_account__business__memberships__user__email": email}
    pages = []
    for model, url in ((CAD, "/declarations/{}/"), (Appeal, "/appeals/{}/"), (Penalty, "/appeals/penalties/{}/"),
                       (Statement, "/billing/statements/{}/")):
        obj = model.objects.filter(**mine).order_by("pk").first()
        if obj is not None:
            pages.append(url.format(obj.pk))
    account = ProgramAccount.objects.filter(business__memberships__user__email=email).order_by("number").first()
    if account is not None:
        pages.append(f"/security/{account.pk}/")
    return pages


def _staff_detail_pages() -> list[str]:
    from appeals.models import Appeal
    from billing.models import Statement

    pages = []
    appeal = Appeal.objects.order_by("pk").first()
    if appeal is not None:
        pages.append(f"/admin/appeals/appeal/{appeal.pk}/change/")
    statement = Statement.objects.order_by("pk").first()
    if statement is not None:
        pages.append(f"/admin/billing/statement/{statement.pk}/change/")
    return pages


def _check(page, axe_source: str, paths: list[str], language: str) -> list[str]:
    """Every page at both widths; the problems found, one line each (empty: all good)."""
    page.goto(paths[0])
    if page.evaluate("document.documentElement.lang") != language:  # the header's language switch (a cookie)
        with page.expect_navigation():
            page.click(".lang-switch button")
    problems = []
    for path in paths:
        page.set_viewport_size(WIDE)
        response = page.goto(path, wait_until="load")
        status = response.status if response is not None else None
        if status != 200:
            problems.append(f"{language} {path}: HTTP {status}")
            continue
        assert page.evaluate("document.documentElement.lang") == language, (path, language)
        for size in (WIDE, PHONE):
            page.set_viewport_size(size)
            page.wait_for_timeout(50)
            where = f"{language} {size['width']}px {path}"
            for v in page.evaluate(RUN_AXE):
                if v["impact"] in BLOCKING or v["id"] in ALSO_FAILING:
                    problems.append(f"{where}: {v['impact']} {v['id']} x{v['count']} ({v['help']}) {v['nodes']}")
            if size is PHONE:
                widths = page.evaluate(WIDTHS)
                if widths["scroll"] > widths["viewport"]:
                    problems.append(f"{where}: {widths['scroll']} px wide at {widths['viewport']} px {widths['widest']}")
    return problems


def _page(new_page, axe_source):
    page = new_page()
    page.context.add_init_script(script=axe_source)
    return page


def _run(page, axe_source, paths, timings, who):
    start = time.monotonic()
    problems = []
    for language in ("en", "fr"):
        problems += _check(page, axe_source, paths, language)
    timings[who] = (len(paths) * 2, round(time.monotonic() - start, 1))
    return problems


@pytest.fixture
def timings(request):
    seen: dict = {}
    yield seen
    for who, (loads, seconds) in seen.items():
        print(f"\naxe {who}: {loads} page loads x 2 widths in {seconds} s")  # noqa: T201


def test_public_pages_pass_axe(new_page, demo, axe_source, timings):
    page = _page(new_page, axe_source)
    page.goto("/login/")
    problems = _run(page, axe_source, PUBLIC, timings, "public")
    assert not problems, "\n".join(problems)


def test_importer_pages_pass_axe(new_page, demo, axe_source, timings):
    page = _page(new_page, axe_source)
    login(page, "importer@example.com")
    paths = COMMON + IMPORTER_ONLY + _detail_pages("importer@example.com")
    problems = _run(page, axe_source, paths, timings, "importer")
    assert not problems, "\n".join(problems)


def test_broker_pages_pass_axe(new_page, demo, axe_source, timings):
    page = _page(new_page, axe_source)
    login(page, "broker@example.com")
    page.goto("/switch-account/")
    choose = page.locator("form[action='/switch-account/'] button[type=submit]")
    if choose.count():  # a broker with one client may already act for it
        choose.first.click()
        page.wait_for_load_state()
    paths = COMMON + BROKER_ONLY + _detail_pages("importer@example.com")
    problems = _run(page, axe_source, paths, timings, "broker")
    assert not problems, "\n".join(problems)


def test_admin_pages_pass_axe(new_page, demo, axe_source, timings):
    page = _page(new_page, axe_source)
    login(page, "admin@example.com")
    problems = _run(page, axe_source, STAFF + _staff_detail_pages(), timings, "admin")
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_violation(new_page, demo, axe_source):
    """The check itself works: an image without alt text and a too-wide box are both reported."""
    page = _page(new_page, axe_source)
    page.goto("/login/")
    page.evaluate("""() => { const i = document.createElement('img'); i.src = 'data:,';
                             document.querySelector('main').appendChild(i);
                             const d = document.createElement('div'); d.style.width = '900px'; d.textContent = 'x';
                             document.querySelector('main').appendChild(d); }""")
    page.set_viewport_size(PHONE)
    ids = {v["id"] for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING}
    assert "image-alt" in ids
    assert page.evaluate(WIDTHS)["scroll"] > 390
