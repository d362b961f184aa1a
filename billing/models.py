"""Billing: the monthly cycle (runs and chunks), statements, daily notices and payments.

The ledger these sum lives below, in ``billing.ledger``; the reference tables (interest rates,
due-date overrides, holidays) in ``carm_portal.models``.
"""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ProgramAccount
from billing.ledger.models import LedgerEntry

_ZERO = Decimal("0.00")


# --- The billing cycle ---------------------------------------------------------------------------
#
# What each Statement column sums, over the account's LedgerEntry rows whose billing_period equals
# the statement's period_end (those rows ARE the statement's lines, see ``Statement.lines``):
#   payments  = −SUM(amount) of kind "payment" (a positive number for money received);
#   interest  = SUM(amount) of kind "interest";
#   penalties = SUM(amount) of kind "penalty";
#   charges   = SUM(amount) of every OTHER kind where amount > 0 (CAD charges, upward corrections
#               and adjustments, CBSA invoices, AMPS, ...);
#   credits   = −SUM(amount) of every OTHER kind where amount < 0 (downward corrections, withdrawals,
#               refund credits, offsets...), shown as a positive number;
#   closing   = opening + charges − credits − payments + interest + penalties
#             = opening + SUM(amount) of every line, to the cent;
#   opening   = the previous statement's closing (0.00 for the account's first statement).
# billing/cycle.py computes all columns in one INSERT … SELECT; tests check each against a plain SUM.


class BillingRun(models.Model):
    """One attempt of the monthly cycle for a period; progress for the ops page and the admin."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        COMPLETE = "complete", _("Complete")
        FAILED = "failed", _("Failed")

    period_end = models.DateField(_("period end"), help_text=_("The period's last day: a 17th."))
    run_number = models.PositiveIntegerField(_("run number"), default=1)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(_("accounts"), default=0)
    done = models.PositiveIntegerField(_("accounts done"), default=0)
    failed = models.PositiveIntegerField(_("accounts failed"), default=0)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    # [{"chunk": n, "accounts": [ids], "error": "..."}]
    failures = models.JSONField(_("failures"), default=list, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-period_end", "-run_number"]
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")
        constraints = [
            models.UniqueConstraint(fields=["period_end", "run_number"], name="billing_run_period_number"),
        ]

    def __str__(self) -> str:
        return f"{self.period_end} #{self.run_number} ({self.get_status_display()})"

    @property
    def progress_percent(self) -> int:
        if not self.total:
            return 100 if self.status == self.Status.COMPLETE else 0
        return int(100 * (self.done + self.failed) / self.total)


class BillingRunChunk(models.Model):
    """A chunk of accounts a run closes in one task; a failed chunk is retried alone."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("run"))
    number = models.PositiveIntegerField(_("number"))
    account_ids = models.JSONField(_("account ids"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        verbose_name = _("billing run chunk")
        verbose_name_plural = _("billing run chunks")
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="billing_chunk_run_number")]

    def __str__(self) -> str:
        return f"{self.run} chunk {self.number} ({self.status})"


class Statement(models.Model):
    """The statement of account (SOA) of one RM for one period: a frozen snapshot of the ledger.

    Its lines are the account's ledger entries with ``billing_period == period_end``
    (``Statement.lines()``). See the column definitions above the ``BillingRun`` model.
    """

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="statements", db_index=False,
        verbose_name=_("program account"),
    )
    period_end = models.DateField(_("period end"))
    period_start = models.DateField(_("period start"))
    opening_balance = models.DecimalField(_("opening balance"), max_digits=14, decimal_places=2, default=_ZERO)
    charges = models.DecimalField(_("charges"), max_digits=14, decimal_places=2, default=_ZERO)
    credits = models.DecimalField(_("credits"), max_digits=14, decimal_places=2, default=_ZERO)
    payments = models.DecimalField(_("payments"), max_digits=14, decimal_places=2, default=_ZERO)
    interest = models.DecimalField(_("interest"), max_digits=14, decimal_places=2, default=_ZERO)
    penalties = models.DecimalField(_("penalties"), max_digits=14, decimal_places=2, default=_ZERO)
    closing_balance = models.DecimalField(_("closing balance"), max_digits=14, decimal_places=2, default=_ZERO)
    # Duties and taxes billed in the period (the sum of the duty…gst breakdown of all lines).
    duties_and_taxes = models.DecimalField(_("duties and taxes"), max_digits=14, decimal_places=2, default=_ZERO)
    due_date = models.DateField(_("due date"))
    issued_on = models.DateField(_("issued on"))
    lines_count = models.PositiveIntegerField(_("lines"), default=0)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    # What the statement showed when issued (names, address, BN, RM number): a later change of the
    # business's address never rewrites an issued statement. Written by the cycle's INSERT.
    snapshot = models.JSONField(_("as issued"), default=dict, blank=True)
    run = models.ForeignKey(
        BillingRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="statements", db_index=False,
        verbose_name=_("billing run"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-period_end", "program_account_id"]
        verbose_name = _("statement of account")
        verbose_name_plural = _("statements of account")
        constraints = [
            models.UniqueConstraint(fields=["program_account", "period_end"], name="statement_account_period"),
        ]
        indexes = [models.Index(fields=["period_end"], name="statement_period")]
        # Issued documents are frozen (PostgreSQL): no UPDATE, no DELETE, like the ledger.
        triggers = [pgtrigger.Protect(name="statement_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.program_account_id} {self.period_end}: {self.closing_balance}"

    def lines(self) -> models.QuerySet[LedgerEntry]:
        return LedgerEntry.objects.owing().filter(
            program_account_id=self.program_account_id, billing_period=self.period_end
        ).order_by("effective_date", "id")

    @property
    def reconciles(self) -> bool:
        return (
            self.opening_balance + self.charges - self.credits - self.payments + self.interest + self.penalties
            == self.closing_balance
        )

    @property
    def is_credit(self) -> bool:
        return self.closing_balance < 0

    @property
    def issued_to(self) -> dict:
        """The business as the statement showed it when issued (``snapshot``)."""
        if self.snapshot:
            return self.snapshot
        business = self.program_account.business  # a statement built outside the cycle (none in practice)
        return {"legal_name": business.legal_name, "operating_name": business.operating_name, "bn9": business.bn9,
                "street": business.street, "city": business.city, "province": business.province,
                "postal_code": business.postal_code, "country": business.country,
                "account_number": self.program_account.number}


class DailyNotice(models.Model):
    """The transactions posted to one RM on one day (issued only for days with activity).

    Its lines are the account's ledger entries created on ``day`` (``created_at`` date, local time).
    """

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="daily_notices", db_index=False,
        verbose_name=_("program account"),
    )
    day = models.DateField(_("day"))
    entries_count = models.PositiveIntegerField(_("entries"), default=0)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=_ZERO)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-day", "program_account_id"]
        verbose_name = _("daily notice")
        verbose_name_plural = _("daily notices")
        constraints = [models.UniqueConstraint(fields=["program_account", "day"], name="daily_notice_account_day")]
        indexes = [models.Index(fields=["day"], name="daily_notice_day")]

    def __str__(self) -> str:
        return f"{self.program_account_id} {self.day}: {self.entries_count} / {self.total}"


class Payment(models.Model):
    """A payment received for an RM; posted to the ledger as a negative ``payment`` entry."""

    class Method(models.TextChoices):
        PAD = "pad", _("Pre-authorized debit")
        ONLINE_BANKING = "online_banking", _("Online banking / EDI 820")
        DEBIT = "debit", _("Debit card")
        CREDIT_CARD = "credit_card", _("Credit card")
        CHEQUE = "cheque", _("Cheque")

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="payments", db_index=False,
        verbose_name=_("program account"),
    )
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    reference = models.CharField(_("reference"), max_length=40)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    received_on = models.DateField(_("received on"))
    billing_period = models.DateField(_("billing period"))
    ledger_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, related_name="payment", verbose_name=_("ledger entry"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(fields=["program_account", "reference"], name="payment_account_reference"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [models.Index(fields=["program_account", "billing_period"], name="payment_account_period")]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} ({self.get_method_display()})"


class SavedReconciliation(models.Model):
    """A statement reconciliation as it was when saved (billing/reconcile.py): a second look shows
    what changed since (``reconcile.changes_since``). Its own rows only, never the statement's."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="reconciliations",
                                  verbose_name=_("statement"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                   db_index=False, verbose_name=_("saved by"))
    source = models.CharField(_("compared with"), max_length=10, default="file")
    # The column mapping the user gave (headers of its file), offered again on the next upload.
    number_column = models.CharField(_("transaction number column"), max_length=100, blank=True)
    amount_column = models.CharField(_("amount column"), max_length=100, blank=True)
    # {"transaction number": [group, listed or null, billed or null]} with amounts as plain-decimal text.
    rows = models.JSONField(_("rows"), default=dict)
    counts = models.JSONField(_("counts"), default=dict)
    listed_total = models.DecimalField(_("list total"), max_digits=14, decimal_places=2, default=_ZERO)
    amount_due = models.DecimalField(_("amount due"), max_digits=14, decimal_places=2, default=_ZERO)
    created_at = models.DateTimeField(_("saved"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("saved reconciliation")
        verbose_name_plural = _("saved reconciliations")
        indexes = [models.Index(fields=["statement", "created_by", "-created_at"], name="reconciliation_lookup")]

    def __str__(self) -> str:
        return f"{self.statement_id} {self.created_at:%Y-%m-%d %H:%M}"
