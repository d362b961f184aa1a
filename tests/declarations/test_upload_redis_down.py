"""A big CSV upload with Redis down (broker and cache): recorded in the outbox, its page says
queued (progress in the database, not only the cache); once the broker is back the outbox sweeper
imports it, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from carm_portal import outbox
from carm_portal.models import OutboxItem
from declarations.models import CAD
from tests.core.test_outbox import DOWN, broker_down  # noqa: F401 - the fixture
from tests.declarations.test_views import csv_rows, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(importer):
    return importer.program_accounts.order_by("number").first()


def test_a_big_csv_upload_with_redis_down_says_queued_and_is_imported_once_back(
        client, importer, account, tariff, broker_down, settings, django_capture_on_commit_callbacks):  # noqa: F811
    settings.CARM = {**settings.CARM, "CAD_UPLOAD_ASYNC_LINES": 2}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DOWN}}
    client.force_login(importer.bam)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, account, csv_rows(2, 2))
    assert response.status_code == 200, response.content[:500]
    upload_id = response.redirect_chain[-1][0].rstrip("/").split("/")[-1]
    assert client.get(reverse("cad_upload_progress", args=[upload_id])).json()["state"] == "queued"
    item = OutboxItem.objects.get(task="declarations.import_cads_csv")
    assert item.status == OutboxItem.Status.PENDING and not CAD.objects.exists()
    broker_down()  # the broker is back (the cache stays down: the database carries the progress)
    assert outbox.sweep(now=timezone.now() + timedelta(hours=1)) == 1
    assert outbox.sweep(now=timezone.now() + timedelta(hours=2)) == 0
    assert CAD.objects.count() == 2
    assert client.get(reverse("cad_upload_progress", args=[upload_id])).json()["state"] == "done"
