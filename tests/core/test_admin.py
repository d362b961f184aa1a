"""Every model in the admin: its list (with search) and add pages render for a superuser."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTERED = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="root@example.com", password="x-pass-123")
    client.force_login(user)
    return client


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.mark.parametrize("app_label, model_name", REGISTERED)
def test_changelist_search_and_add_render(superuser_client, demo, app_label, model_name):
    changelist = reverse(f"admin:{app_label}_{model_name}_changelist")
    assert superuser_client.get(changelist).status_code == 200
    assert superuser_client.get(changelist, {"q": "maple"}).status_code == 200
    add = reverse(f"admin:{app_label}_{model_name}_add")
    assert superuser_client.get(add).status_code in (200, 403)


@pytest.mark.parametrize("app_label, model_name", REGISTERED)
def test_change_page_renders_for_an_existing_row(superuser_client, demo, app_label, model_name):
    from django.apps import apps

    obj = apps.get_model(app_label, model_name).objects.first()
    if obj is None:
        pytest.skip("the demo has no row of this model")
    url = reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk])
    assert superuser_client.get(url).status_code == 200
