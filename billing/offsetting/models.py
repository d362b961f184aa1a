"""Offsetting: which credit paid which debt (architecture decision 3), and refunds.

**The balance is the sum of the ledger; allocations never change it.** An ``Allocation`` is not a
ledger entry: it only records that (part of) a credit entry (negative ``LedgerEntry``) paid (part
of) a debt entry (positive ``LedgerEntry``). What is left of an entry is derived in SQL:

    debt remaining   =  entry.amount  − Σ allocations where it is the debt
    credit remaining = −entry.amount  − Σ allocations where it is the credit

and is never stored a second time. A refund paid to the importer is the one case where money
leaves: it posts a positive ``refund`` ledger entry (the balance moves back toward zero) and that
entry is allocated against the credits it consumes.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Business, ProgramAccount
from billing.ledger.models import LedgerEntry


class Allocation(models.Model):
    """(Part of) one credit entry applied to (part of) one debt entry."""

    class Method(models.TextChoices):
        AUTO = "auto", _("Automatic")
        MANUAL = "manual", _("Manual")
        REFUND = "refund", _("Refund")

    credit = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="allocations_out", verbose_name=_("credit entry"),
    )
    debt = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="allocations_in", verbose_name=_("debt entry"),
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    applied_on = models.DateField(
        _("cleared on"),
        help_text=_("The day the credit cleared the debt: the debt's due date, or the credit's date if later."),
    )
    method = models.CharField(_("method"), max_length=10, choices=Method.choices, default=Method.AUTO)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["applied_on", "id"]
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        constraints = [
            # A credit never pays the same debt twice: a rerun (or a race) cannot double-allocate.
            models.UniqueConstraint(fields=["credit", "debt"], name="offsetting_one_allocation_per_pair"),
            models.CheckConstraint(name="offsetting_allocation_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="offsetting_allocation_two_entries", condition=~Q(credit=F("debt"))),
        ]
        indexes = [models.Index(fields=["debt", "credit"], name="offsetting_alloc_debt")]
        # Append-only in PostgreSQL, like the ledger: an allocation is undone by a new entry.
        triggers = [pgtrigger.Protect(name="allocation_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.amount} {self.credit_id} → {self.debt_id} ({self.applied_on})"


class RefundQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=[Refund.Status.REQUESTED, Refund.Status.APPROVED])


class Refund(models.Model):
    """A disbursement of an RM account's credit to the importer (never care of the broker)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        PAID = "paid", _("Paid")
        REJECTED = "rejected", _("Rejected")

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("program account"),
    )
    payee = models.ForeignKey(
        Business, on_delete=models.PROTECT, related_name="refunds_received", verbose_name=_("paid to"),
        help_text=_("Always the importer that owns the RM account."),
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("paid or rejected by"),
    )
    decided_at = models.DateTimeField(_("paid or rejected"), null=True, blank=True)
    rejection_reason = models.CharField(_("rejection reason"), max_length=300, blank=True)
    ledger_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="refund",
        verbose_name=_("refund ledger entry"),
    )

    objects = RefundQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(name="offsetting_refund_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="offsetting_paid_refund_has_entry",
                condition=~Q(status="paid") | Q(ledger_entry__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["program_account", "status"], name="offsetting_refund_account")]

    def __str__(self) -> str:
        return f"{self.program_account.number} {self.amount} ({self.get_status_display()})"

    def clean(self) -> None:
        if self.program_account_id and self.payee_id and self.program_account.business_id != self.payee_id:
            raise ValidationError({"payee": _("A refund is paid only to the importer that owns the RM account.")})
