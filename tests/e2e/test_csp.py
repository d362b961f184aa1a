"""Content-Security-Policy in Chromium: the main pages, as the demo importer and the demo broker,
run with the portal's CSP and report no violation (no inline script, handler or eval)."""

import pytest
from django.core.management import call_command

from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Collects every violation the page reports, before any page script runs.
LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});
"""

COMMON = [
    "/", "/business/", "/users/", "/delegations/", "/business/join/", "/password/change/",
    "/declarations/", "/declarations/new/", "/declarations/upload/",
    "/billing/", "/billing/transactions/", "/billing/payments/",
    "/security/", "/offsetting/", "/appeals/", "/appeals/new/",
]
IMPORTER_ONLY = ["/audit/", "/delegations/grant/", "/business/edit/"]
BROKER_ONLY = ["/switch-account/", "/delegations/request/"]
PUBLIC = ["/login/", "/password/reset/", "/api/docs/", "/api/redoc/"]


@pytest.fixture
def demo(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def _detail_pages():
    from appeals.models import Appeal
    from declarations.models import CAD

    pages = []
    cad = CAD.objects.filter(program_account__business__memberships__user__email="importer@example.com").first()
    if cad is not None:
        pages.append(f"/declarations/{cad.pk}/")
    appeal = Appeal.objects.filter(program_account__business__memberships__user__email="importer@example.com").first()
    if appeal is not None:
        pages.append(f"/appeals/{appeal.pk}/")
    return pages


def _visit(page, paths):
    problems = []
    console = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    for path in paths:
        console.clear()
        response = page.goto(path, wait_until="load")
        assert response is not None and response.status < 500, (path, response and response.status)
        if response.status == 200 and "text/html" in (response.headers.get("content-type") or ""):
            assert "content-security-policy" in response.headers, path
            assert "unsafe-inline" not in response.headers["content-security-policy"].split("script-src")[1].split(";")[0]
        page.wait_for_timeout(150)  # late violations (deferred scripts, workers)
        seen = page.evaluate("window.__csp || []")
        if seen or console:
            problems.append((path, seen, list(console)))
    return problems


def _page(new_page):
    page = new_page()
    page.context.add_init_script(LISTEN)
    return page


def test_public_pages_have_no_csp_violation(new_page, demo):
    assert _visit(_page(new_page), PUBLIC) == []


def test_importer_pages_have_no_csp_violation(new_page, demo):
    page = _page(new_page)
    login(page, "importer@example.com")
    assert _visit(page, COMMON + IMPORTER_ONLY + _detail_pages()) == []


def test_broker_pages_have_no_csp_violation(new_page, demo):
    page = _page(new_page)
    login(page, "broker@example.com")
    problems = _visit(page, ["/switch-account/"])
    choose = page.locator("form[action='/switch-account/'] button[type=submit]")
    if choose.count():  # a broker with one client already acts for it
        choose.first.click()
        page.wait_for_load_state()
    assert "Acting for" in page.content()
    problems += _visit(page, COMMON + BROKER_ONLY + _detail_pages())
    assert problems == []


def test_a_violation_is_caught(new_page, demo):
    """The check itself works: an inline script injected into a page is refused and reported."""
    page = _page(new_page)
    page.goto("/login/")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';
                             document.body.appendChild(s); }""")
    page.wait_for_timeout(150)
    assert page.evaluate("window.ran") is None
    assert page.evaluate("window.__csp.length") >= 1


def test_admin_pages_have_no_csp_violation(new_page, demo):
    page = _page(new_page)
    login(page, "admin@example.com")
    assert _visit(page, [
        "/admin/", "/admin/accounts/auditevent/", "/admin/accounts/business/", "/admin/accounts/business/add/",
        "/admin/django_celery_beat/periodictask/add/",
    ]) == []
