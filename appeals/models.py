"""Compliance actions (AMPS penalties, statements of adjustment) and the appeals against them.

Write paths live in ``appeals.services`` (every state change is a transition service that locks
the row, checks the state, records an ``AppealTransition`` and an audit event); deadlines in
``appeals.deadlines``. Money effects go to the ledger (``billing.ledger.services.post_entry``) only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ProgramAccount


class Penalty(models.Model):
    """An AMPS notice of penalty assessment (NPA), served on an RM account. Posts a debit."""

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="penalties", verbose_name=_("program account")
    )
    npa_number = models.CharField(_("NPA number"), max_length=30, unique=True)
    contravention_code = models.CharField(_("contravention"), max_length=10, help_text=_("E.g. C336."))
    description = models.CharField(_("description"), max_length=200, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    served_on = models.DateField(_("date served"))
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("ledger entry"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-served_on", "-id"]
        verbose_name = _("AMPS penalty (NPA)")
        verbose_name_plural = _("AMPS penalties (NPAs)")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="penalty_amount_positive")]

    def __str__(self) -> str:
        return f"NPA {self.npa_number}"


class StatementOfAdjustment(models.Model):
    """A s.59 re-assessment of a CAD (detailed adjustment statement). Posts the difference."""

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="statements_of_adjustment",
        verbose_name=_("program account"),
    )
    cad = models.ForeignKey(
        "declarations.CAD", on_delete=models.PROTECT, related_name="statements_of_adjustment", verbose_name=_("CAD")
    )
    number = models.CharField(_("statement number"), max_length=30, unique=True)
    decision_date = models.DateField(_("decision date"))
    previous_amount = models.DecimalField(_("duties and taxes before"), max_digits=14, decimal_places=2)
    new_amount = models.DecimalField(_("duties and taxes re-assessed"), max_digits=14, decimal_places=2)
    change = models.DecimalField(
        _("change"), max_digits=14, decimal_places=2, help_text=_("Positive: more owed; negative: a refund.")
    )
    reason = models.TextField(_("reason"))
    # Staff record that the duties and interest in question were secured (s.60 allows filing then).
    secured = models.BooleanField(_("amounts secured"), default=False)
    secured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, verbose_name=_("secured recorded by"),
    )
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("ledger entry"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-decision_date", "-id"]
        verbose_name = _("statement of adjustment")
        verbose_name_plural = _("statements of adjustment")

    def __str__(self) -> str:
        return f"SoA {self.number}"


class Appeal(models.Model):
    """A s.60 request for re-determination (one or more SoAs on one issue) or a s.129.1 penalty appeal."""

    class Kind(models.TextChoices):
        REDETERMINATION = "s60", _("Request for re-determination (Customs Act s. 60)")
        PENALTY = "s129_1", _("Penalty appeal (Customs Act s. 129.1)")

    class Issue(models.TextChoices):
        ORIGIN = "origin", _("Origin")
        CLASSIFICATION = "classification", _("Tariff classification")
        VALUATION = "valuation", _("Value for duty")
        MARKING = "marking", _("Marking")
        PENALTY = "penalty", _("Penalty (AMPS)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        ASSIGNED = "assigned", _("Assigned to an officer")
        INFO_REQUESTED = "info_requested", _("Information requested")
        DECISION_RENDERED = "decision_rendered", _("Decision rendered")
        CLOSED = "closed", _("Closed")
        REJECTED_INCOMPLETE = "rejected_incomplete", _("Rejected as incomplete")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", _("Allowed")
        PARTIAL = "partial", _("Allowed in part")
        DENIED = "denied", _("Denied")

    OPEN_STATUSES = (
        Status.DRAFT, Status.SUBMITTED, Status.ACKNOWLEDGED, Status.ASSIGNED, Status.INFO_REQUESTED,
        Status.REJECTED_INCOMPLETE,
    )
    # The appellant may add documents while CBSA has not decided.
    DOCUMENT_STATUSES = OPEN_STATUSES

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("program account")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    issue = models.CharField(_("issue"), max_length=20, choices=Issue.choices)
    penalty = models.ForeignKey(
        Penalty, on_delete=models.PROTECT, null=True, blank=True, related_name="appeals", verbose_name=_("NPA")
    )
    statements = models.ManyToManyField(
        StatementOfAdjustment, blank=True, related_name="appeals", verbose_name=_("statements of adjustment")
    )
    decision_date = models.DateField(
        _("date of the decision appealed"), help_text=_("The SoA date (earliest one) or the NPA service date."),
    )
    amount_in_dispute = models.DecimalField(_("amount in dispute"), max_digits=14, decimal_places=2)
    grounds = models.TextField(_("grounds"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    extension = models.ForeignKey(
        "ExtensionApplication", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("extension granted"),
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("filed by")
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("officer"),
    )
    info_due_date = models.DateField(_("further submissions due"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    decision_reasons = models.TextField(_("reasons for the decision"), blank=True)
    decision_amount = models.DecimalField(
        _("amount allowed"), max_digits=14, decimal_places=2, null=True, blank=True,
        help_text=_("The credit to the importer (allowed or allowed in part)."),
    )
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, verbose_name=_("decided by"),
    )
    credit_entry = models.OneToOneField(
        "ledger.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("credit entry"),
    )
    interest_entry = models.OneToOneField(
        "ledger.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("interest entry"),
    )
    letter_file = models.CharField(_("decision letter file"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        constraints = [
            # s.129.1: one appeal per notice of penalty assessment.
            models.UniqueConstraint(fields=["penalty"], condition=Q(penalty__isnull=False),
                                    name="one_appeal_per_npa"),
            models.CheckConstraint(
                condition=(Q(kind="s129_1", penalty__isnull=False) | Q(kind="s60", penalty__isnull=True)),
                name="appeal_penalty_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["program_account", "status"], name="appeal_account_status"),
                   models.Index(fields=["status"], name="appeal_status")]

    def __str__(self) -> str:
        return f"{_('Appeal')} {self.pk} ({self.get_kind_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def in_favour(self) -> bool:
        return self.outcome in (self.Outcome.ALLOWED, self.Outcome.PARTIAL)


class AppealTransition(models.Model):
    """One step of an appeal's workflow: who moved it from which state to which, when, and why."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="transitions", verbose_name=_("appeal"))
    from_status = models.CharField(_("from"), max_length=20, choices=Appeal.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=Appeal.Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              db_index=False, verbose_name=_("by"))
    at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)
    # The officer an "assigned" step gave the file to: stored as a fact, so the timeline says
    # "Assigned to …" in the reader's language (a sentence stored in the assigner's would not).
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", db_index=False, verbose_name=_("assigned to"))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("appeal transition")
        verbose_name_plural = _("appeal transitions")

    def __str__(self) -> str:
        return f"{self.appeal_id}: {self.from_status or '—'} → {self.to_status}"


class AppealDocument(models.Model):
    """A supporting document, stored privately under PRIVATE_STORAGE_ROOT/appeals/<random>."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="documents", verbose_name=_("appeal"))
    original_name = models.CharField(_("file name"), max_length=200)
    stored_name = models.CharField(_("stored as"), max_length=100, unique=True)
    content_type = models.CharField(_("type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    db_index=False, verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("appeal document")
        verbose_name_plural = _("appeal documents")

    def __str__(self) -> str:
        return self.original_name


class ExtensionApplication(models.Model):
    """A s.60.1 (or s.129.1(2)) application to file late: within 1 year after the 90 days expire."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        GRANTED = "granted", _("Granted")
        REFUSED = "refused", _("Refused")

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="appeal_extensions", verbose_name=_("program account")
    )
    penalty = models.ForeignKey(Penalty, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="extensions", verbose_name=_("NPA"))
    statement = models.ForeignKey(StatementOfAdjustment, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="extensions", verbose_name=_("statement of adjustment"))
    reasons = models.TextField(
        _("reasons"), help_text=_("Why you could not act or intended to file, why granting is just and "
                                  "equitable, and that you applied as soon as circumstances permitted."),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     db_index=False, verbose_name=_("requested by"))
    requested_on = models.DateField(_("requested on"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", db_index=False, verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["-requested_on", "-id"]
        verbose_name = _("extension application")
        verbose_name_plural = _("extension applications")
        constraints = [
            models.CheckConstraint(
                condition=(Q(penalty__isnull=False, statement__isnull=True)
                           | Q(penalty__isnull=True, statement__isnull=False)),
                name="extension_about_one_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"{_('Extension')} {self.pk} ({self.penalty or self.statement})"


class AppealNotice(models.Model):
    """An in-portal reminder before a deadline (also emailed); one per appeal, deadline and threshold."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="notices", verbose_name=_("appeal"))
    deadline_kind = models.CharField(_("deadline"), max_length=20)
    deadline = models.DateField(_("deadline date"))
    threshold = models.PositiveSmallIntegerField(_("days before"))
    message = models.CharField(_("message"), max_length=300)
    emailed_to = models.TextField(_("emailed to"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("appeal notice")
        verbose_name_plural = _("appeal notices")
        constraints = [
            models.UniqueConstraint(fields=["appeal", "deadline_kind", "deadline", "threshold"],
                                    name="one_notice_per_appeal_deadline_threshold"),
        ]

    def __str__(self) -> str:
        return self.message
