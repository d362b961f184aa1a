"""Every model in the admin: its list (with search), add and change pages render for a superuser.

The demo is seeded once for the module, on a fixed day, inside a transaction that is rolled back
when the module ends; each test runs in a savepoint of it (pytest-django's ``db``), so what one
test writes is gone before the next. Rows the demo does not make are added, so that every
registered model's change page renders a real row.
"""

import datetime as dt
import io
import sys
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

pytestmark = pytest.mark.django_db

# A Wednesday, inside a billing period, away from its ends and from any holiday.
ON = dt.datetime(2026, 6, 10, 10, 0, tzinfo=ZoneInfo("America/Toronto"))

REGISTERED = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)


def _rows_the_demo_lacks() -> None:
    """One row of each registered model the demo leaves empty (plain ORM, except the computed RPP
    forecast: these are fixtures for the admin pages, not a walk through the business rules)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from rest_framework.authtoken.models import Token

    from accounts.models import Business, ClientGroup, User
    from appeals.models import (
        Appeal,
        AppealDocument,
        AppealNotice,
        ExtensionApplication,
        Penalty,
        StatementOfAdjustment,
    )
    from billing.models import DailyNotice, SavedReconciliation, Statement
    from billing.offsetting.models import Refund
    from billing.rpp import services as rpp
    from billing.rpp.models import (
        CashDeposit,
        ReductionRequest,
        SecurityForecast,
        SecurityRequirement,
    )
    from carm_portal.models import DueDateOverride, HolidayOverride
    from declarations.models import CAD

    today = ON.date()
    user = User.objects.get(email="importer@example.com")
    importer = Business.objects.get(legal_name__startswith="Maple Leaf")
    rm = importer.program_accounts.order_by("number").first()
    appeal = Appeal.objects.order_by("pk").first()
    http = {"user_agent": "pytest", "http_accept": "text/html", "path_info": "/accounts/login/",
            "username": user.email, "ip_address": "127.0.0.1"}

    def client_group():
        group = ClientGroup.objects.create(broker=Business.objects.get(kind=Business.Kind.BROKER), name="Apparel")
        group.clients.add(importer)

    def periodic_task():
        interval = IntervalSchedule.objects.first() or IntervalSchedule.objects.create(
            every=1, period=IntervalSchedule.MINUTES)
        PeriodicTask.objects.create(name="heartbeat", task="carm_portal.tasks.heartbeat", interval=interval)

    builders = {
        ClientGroup: client_group,
        StatementOfAdjustment: lambda: StatementOfAdjustment.objects.create(
            program_account=rm, cad=CAD.objects.filter(program_account=rm).order_by("pk").first(),
            number="SOA-ADMIN-1", decision_date=today - dt.timedelta(days=20), previous_amount=Decimal("1000.00"),
            new_amount=Decimal("1250.00"), change=Decimal("250.00"), reason="Re-classified from 6109.10 to 6109.90"),
        AppealDocument: lambda: AppealDocument.objects.create(
            appeal=appeal, original_name="ruling.pdf", stored_name="admin-test.pdf", content_type="application/pdf",
            size=15, sha256="0" * 64, uploaded_by=user),
        AppealNotice: lambda: AppealNotice.objects.create(
            appeal=appeal, deadline_kind="filing", deadline=today + dt.timedelta(days=30), threshold=30,
            message="30 days left to file"),
        ExtensionApplication: lambda: ExtensionApplication.objects.create(
            program_account=rm, penalty=Penalty.objects.order_by("pk").first(), reasons="The importer was abroad.",
            requested_by=user, requested_on=today),
        DailyNotice: lambda: DailyNotice.objects.create(program_account=rm, day=today),
        SavedReconciliation: lambda: SavedReconciliation.objects.create(
            statement=Statement.objects.filter(program_account=rm).order_by("-period_end").first(), created_by=user,
            rows={"10077000000011": "100.00"}, counts={"matched": 1}),
        DueDateOverride: lambda: DueDateOverride.objects.create(period_end=dt.date(2030, 12, 17),
                                                                due_date=dt.date(2031, 1, 6)),
        HolidayOverride: lambda: HolidayOverride.objects.create(day=dt.date(2030, 12, 27), is_holiday=True),
        Refund: lambda: Refund.objects.create(program_account=rm, payee=importer, amount=Decimal("350.00"),
                                              requested_by=user),
        CashDeposit: lambda: CashDeposit.objects.create(program_account=rm, amount=Decimal("5000.00"),
                                                        received_date=today),
        ReductionRequest: lambda: ReductionRequest.objects.create(
            program_account=rm, requirement=SecurityRequirement.objects.get(program_account=rm, is_current=True),
            requested_amount=Decimal("25000.00"), rationale="Our imports fell by half.", requested_by=user),
        SecurityForecast: lambda: rpp.forecasts_compute([rm], as_of=today),
        Group: lambda: Group.objects.create(name="Auditors"),
        Token: lambda: Token.objects.create(user=user),
        AccessAttempt: lambda: AccessAttempt.objects.create(get_data="", post_data="", failures_since_start=1, **http),
        AccessFailureLog: lambda: AccessFailureLog.objects.create(**http),
        AccessLog: lambda: AccessLog.objects.create(**http),
        IntervalSchedule: lambda: IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES),
        CrontabSchedule: lambda: CrontabSchedule.objects.create(minute="0", hour="6"),
        SolarSchedule: lambda: SolarSchedule.objects.create(event="sunrise", latitude=Decimal("43.65"),
                                                            longitude=Decimal("-79.38")),
        ClockedSchedule: lambda: ClockedSchedule.objects.create(clocked_time=ON + dt.timedelta(days=1)),
        PeriodicTask: periodic_task,
    }
    for model, build in builders.items():
        if not model._default_manager.exists():
            build()


@pytest.fixture(scope="module", autouse=True)
def demo(django_db_setup, django_db_blocker):
    """The demo and the extra rows, once for the module, on ``ON``; rolled back at the end."""
    with time_machine.travel(ON, tick=True):
        with django_db_blocker.unblock():
            outer = transaction.atomic()
            outer.__enter__()
            try:
                call_command("seed_demo", stdout=io.StringIO())
                _rows_the_demo_lacks()
            except BaseException:
                outer.__exit__(*sys.exc_info())
                raise
        yield
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="root@example.com", password="x-pass-123")
    client.force_login(user)
    return client


def test_every_registered_model_has_a_row():
    empty = [f"{app}.{model}" for app, model in REGISTERED if not apps.get_model(app, model).objects.exists()]
    assert empty == []


@pytest.mark.parametrize("app_label, model_name", REGISTERED)
def test_changelist_search_and_add_render(superuser_client, app_label, model_name):
    changelist = reverse(f"admin:{app_label}_{model_name}_changelist")
    assert superuser_client.get(changelist).status_code == 200
    assert superuser_client.get(changelist, {"q": "maple"}).status_code == 200
    add = reverse(f"admin:{app_label}_{model_name}_add")
    assert superuser_client.get(add).status_code in (200, 403)


@pytest.mark.parametrize("app_label, model_name", REGISTERED)
def test_change_page_renders_for_an_existing_row(superuser_client, app_label, model_name):
    obj = apps.get_model(app_label, model_name).objects.order_by("pk").first()
    assert obj is not None, f"no {app_label}.{model_name} row: add one in _rows_the_demo_lacks()"
    url = reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk])
    assert superuser_client.get(url).status_code == 200
