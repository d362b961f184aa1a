"""The main nav: staff (CBSA officers, admin users) get a nav of their own, importers theirs.

Every link a user is shown opens (200); staff see no importer-only link and their dashboard offers no
"Register a business"; importers see no staff link.
"""

from __future__ import annotations

import re

import pytest

from accounts.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db

STAFF_LINKS = ["/", "/billing/ops/", "/appeals/review/", "/security/staff/reductions/",
               "/offsetting/staff/refunds/", "/admin/"]
IMPORTER_LINKS = ["/", "/declarations/", "/offsetting/", "/security/", "/billing/", "/appeals/", "/deadlines/",
                  "/business/", "/users/", "/delegations/"]


def nav_links(response) -> list[str]:
    html = response.content.decode()
    nav = re.search(r'<nav class="main-nav".*?</nav>', html, re.S)
    assert nav is not None, "no main nav"
    return re.findall(r'href="([^"]+)"', nav.group(0))


def user_menu_links(response) -> list[str]:
    menu = re.search(r'<div class="user-menu-panel">.*?</div>', response.content.decode(), re.S)
    return re.findall(r'href="([^"]+)"', menu.group(0)) if menu else []


def _answers(client, links):
    return {link: client.get(link).status_code for link in links}


def test_an_officer_sees_the_staff_nav_and_every_link_opens(client):
    officer = factories.make_officer()
    client.force_login(officer)
    response = client.get("/")
    assert response.status_code == 200
    assert nav_links(response) == STAFF_LINKS
    assert _answers(client, STAFF_LINKS) == dict.fromkeys(STAFF_LINKS, 200)
    text = response.content.decode()
    assert "Register a business" not in text
    assert "/business/register/" not in text and "/business/join/" not in text
    assert "Staff work" in text
    assert "/business/join/" not in user_menu_links(response)


def test_the_staff_nav_marks_the_current_page(client):
    client.force_login(factories.make_officer())
    html = client.get("/appeals/review/").content.decode()
    assert re.search(r'<a href="/appeals/review/" aria-current="page">', html)
    assert html.count('aria-current="page"') == 1


def test_an_officer_without_admin_access_gets_no_admin_link(client):
    officer = factories.make_officer(is_staff=False)
    client.force_login(officer)
    assert nav_links(client.get("/")) == STAFF_LINKS[:-1]


def test_an_admin_user_who_is_no_officer_sees_only_the_dashboard_and_the_admin(client):
    staff = factories.make_user(is_staff=True)
    client.force_login(staff)
    response = client.get("/")
    assert nav_links(response) == ["/", "/admin/"]
    assert _answers(client, ["/", "/admin/"]) == {"/": 200, "/admin/": 200}
    assert "Register a business" not in response.content.decode()


def test_an_importer_sees_the_importer_nav_and_no_staff_link(client, importer):
    client.force_login(importer.bam)
    response = client.get("/")
    links = nav_links(response)
    assert links == IMPORTER_LINKS
    assert _answers(client, links) == dict.fromkeys(links, 200)
    assert not set(links) & set(STAFF_LINKS[1:])
    assert "/business/join/" in user_menu_links(response)


def test_a_user_with_no_business_still_gets_register_and_join(client):
    client.force_login(factories.make_user())
    text = client.get("/").content.decode()
    assert "Register a business" in text and "Staff work" not in text


def test_the_nav_has_a_menu_button_for_phones(client, importer):
    client.force_login(factories.add_member(importer, role=Role.READER))
    html = client.get("/").content.decode()
    button = re.search(r'<button type="button" class="nav-toggle"[^>]*>', html).group(0)
    assert 'aria-expanded="false"' in button and 'aria-controls="main-nav-list"' in button
    assert 'id="main-nav-list"' in html
    assert re.search(r'<script src="/static/js/nav\.js" defer></script>', html)
