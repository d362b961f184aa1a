"""The decision letter is rendered by a real Celery worker from the ``pdf`` queue
(task ``appeals.pdf.render_decision_letter``), enqueued when the decision commits."""

import time
from datetime import date

import pytest

from appeals import services, storage
from appeals.models import Appeal
from appeals.tasks import render_decision_letter
from tests.appeals.conftest import make_penalty, walk_to_assigned
from tests.celery_worker import real_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_task_is_routed_to_the_pdf_queue():
    from carm_portal.celery import app

    assert render_decision_letter.name == "appeals.pdf.render_decision_letter"
    route = app.amqp.router.route({}, render_decision_letter.name)
    assert route["queue"].name == "pdf"


def test_a_worker_renders_the_letter_after_the_decision_commits(cbsa, account, importer, _private_storage):
    penalty = make_penalty(cbsa, account, served_on=date(2025, 11, 20))
    appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g", today=date(2025, 12, 1))
    services.appeal_submit(actor=importer.bam, appeal=appeal, today=date(2025, 12, 1))
    walk_to_assigned(cbsa, appeal)
    with real_worker("pdf", "celery", concurrency=1, extra_env={"PRIVATE_STORAGE_ROOT": str(_private_storage)}):
        services.appeal_decide(actor=cbsa, appeal=appeal, outcome="allowed", reasons="Cancelled.",
                               today=date(2026, 1, 5))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Appeal.objects.get(pk=appeal.pk).letter_file:
            time.sleep(0.5)
    appeal.refresh_from_db()
    assert appeal.letter_file, "the worker did not render the letter"
    assert storage.path_of(appeal.letter_file).read_bytes().startswith(b"%PDF-")
