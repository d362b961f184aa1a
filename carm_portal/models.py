from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from carm_portal import calendar


class HolidayOverride(models.Model):
    """An admin's correction to the statutory calendar: add a closure or remove a holiday."""

    day = models.DateField(_("day"), unique=True)
    is_holiday = models.BooleanField(
        _("is a holiday"), default=True, help_text=_("Untick to make a statutory holiday a business day.")
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["day"]
        verbose_name = _("holiday override")
        verbose_name_plural = _("holiday overrides")

    def __str__(self) -> str:
        return f"{self.day} ({'holiday' if self.is_holiday else 'business day'})"


class OutboxItem(models.Model):
    """Work that must follow a commit (a PDF, a letter, offsets, an email), recorded in the same
    transaction as the change that calls for it. ``carm_portal.outbox`` sends it to Celery after
    the commit and its sweeper sends it again until the task has succeeded once."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")  # not handed to the broker yet (or the broker was down)
        SENT = "sent", _("sent")  # handed to the broker; done when the task succeeds
        DONE = "done", _("done")
        FAILED = "failed", _("failed")  # gave up after OUTBOX_MAX_ATTEMPTS; an operator looks

    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    # Open items with the same key are one item (a PDF asked for twice while it renders).
    key = models.CharField(_("key"), max_length=200, blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("outbox item")
        verbose_name_plural = _("outbox items")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(status__in=["pending", "sent"]) & ~models.Q(key=""),
                name="outbox_one_open_item_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task}{self.args} ({self.status})"


class IdempotentRequest(models.Model):
    """One client request made safe to retry (``carm_portal.idempotency``): the user's
    ``Idempotency-Key``, what the request was (endpoint and body hash) and what it answered."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user"))
    key = models.CharField(_("key"), max_length=100)
    endpoint = models.CharField(_("endpoint"), max_length=300)
    request_hash = models.CharField(_("request hash"), max_length=64)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_idempotent_request_per_user_key")]

    def __str__(self) -> str:
        return f"{self.key} {self.endpoint}"


class JobProgress(models.Model):
    """The state of a background job a user waits for (a CSV import): kept in the database so the
    status page works with the cache (Redis) down; the cache holds the live copy when it is up."""

    key = models.CharField(_("key"), max_length=200, unique=True)
    state = models.JSONField(_("state"), default=dict)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("job progress")
        verbose_name_plural = _("job progress")

    def __str__(self) -> str:
        return self.key


class InterestRate(models.Model):
    """The specified annual rate (CBSA's prescribed rate + 6 points) in force from ``effective_from``
    until the next row's day. One row per quarter, plus rows where a waiver starts or ends: a
    waiver is a 0% row (the 2025 CARM transition, Customs Notice 25-02); it waives penalties too."""

    effective_from = models.DateField(_("in force from"), unique=True)
    annual_rate = models.DecimalField(
        _("annual rate"), max_digits=8, decimal_places=6,
        help_text=_("The specified rate charged on overdue amounts, as a fraction: 0.09 for 9%. 0 is a waiver."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        db_table = "billing_interestrate"  # its name from when it lived in the billing app
        ordering = ["-effective_from"]
        verbose_name = _("interest rate")
        verbose_name_plural = _("interest rates")

    def __str__(self) -> str:
        return f"{self.effective_from}: {self.annual_rate}"

    def clean(self) -> None:
        if self.annual_rate is not None and not (0 <= self.annual_rate < 1):
            raise ValidationError({"annual_rate": _("A rate is a fraction between 0 and 1: 0.09 for 9%.")})


class DueDateOverride(models.Model):
    """A due date CBSA published for a period (deferred for holidays); wins over the weekday rule."""

    period_end = models.DateField(_("period end"), unique=True)
    due_date = models.DateField(_("due date"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        db_table = "billing_duedateoverride"  # its name from when it lived in the billing app
        ordering = ["-period_end"]
        verbose_name = _("due date override")
        verbose_name_plural = _("due date overrides")

    def __str__(self) -> str:
        return f"{self.period_end} → {self.due_date}"

    def clean(self) -> None:
        if self.period_end and not calendar.is_period_end(self.period_end):
            raise ValidationError({"period_end": _("A billing period ends on the 17th.")})
