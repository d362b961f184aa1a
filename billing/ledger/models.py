"""The money ledger: the single truth for what an importer owes (architecture decision 1).

Every money effect is one ``LedgerEntry``: a CAD charge, the difference a correction or an
adjustment makes, a withdrawal, a payment, interest, a penalty, a refund, an offset. Nothing
billed is ever edited or deleted; a change is a new entry. Balances, statements and the RPP
security requirement are SQL sums over these rows.

Write entries only through ``billing.ledger.services.post_entry`` (or its bulk twin for load tools).

The table keeps its first name, ``billing_ledgerentry`` (raw SQL in the billing cycle, benches and the
append-only trigger use it), from when the ledger lived in the billing app.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ProgramAccount
from carm_portal import calendar

# The tax kinds an entry is broken down into; they sum to ``amount``.
BREAKDOWN_FIELDS = ("duty", "sima", "excise_duty", "excise_tax", "gst", "other")
# Duties and taxes (the RPP base, GST included): every kind but "other".
DUTIES_AND_TAXES_FIELDS = ("duty", "sima", "excise_duty", "excise_tax", "gst")

_ZERO = Decimal("0.00")


# Money the CBSA holds rather than money owed or paid: a cash security deposit sits in the ledger
# (it is real money received) but is never part of a balance, a statement or an offset.
HELD_KINDS = ("security_deposit",)
OWING_SQL = "kind <> 'security_deposit'"  # the same rule, for raw SQL over billing_ledgerentry


class LedgerEntryQuerySet(models.QuerySet):
    """Refuses bulk UPDATE and DELETE: the ledger is append-only."""

    def owing(self):
        """Entries that make up what an account owes (held security deposits left out)."""
        return self.exclude(kind__in=HELD_KINDS)

    def update(self, **kwargs):
        raise ValidationError("Ledger entries are append-only; post a new entry instead.")

    def delete(self):
        raise ValidationError("Ledger entries are append-only; post a reversing entry instead.")

    delete.queryset_only = True


class LedgerEntry(models.Model):
    """One money effect on an RM account. Positive: owed by the importer; negative: a credit."""

    class Kind(models.TextChoices):
        CAD_CHARGE = "cad_charge", _("CAD charge")
        CAD_CORRECTION = "cad_correction", _("CAD correction")
        CAD_ADJUSTMENT = "cad_adjustment", _("CAD adjustment")
        CAD_WITHDRAWAL = "cad_withdrawal", _("CAD withdrawal")
        PAYMENT = "payment", _("Payment")
        INTEREST = "interest", _("Interest")
        PENALTY = "penalty", _("Penalty")
        REFUND = "refund", _("Refund")
        OFFSET = "offset", _("Offset")
        SECURITY_DEPOSIT = "security_deposit", _("Security deposit")
        CBSA_INVOICE = "cbsa_invoice", _("CBSA invoice")
        APPEAL_DECISION = "appeal_decision", _("Appeal decision")
        OTHER = "other", _("Other")

    # Kinds whose entries, summed per CAD, equal the CAD's current duties and taxes.
    CAD_KINDS = (Kind.CAD_CHARGE, Kind.CAD_CORRECTION, Kind.CAD_ADJUSTMENT, Kind.CAD_WITHDRAWAL)

    # Indexed by the composite indexes below, which start with it.
    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False,
        verbose_name=_("program account"),
    )
    # No choices constraint in the database: other apps may add kinds without a migration here.
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    duty = models.DecimalField(_("customs duty"), max_digits=14, decimal_places=2, default=_ZERO)
    sima = models.DecimalField(_("SIMA duty"), max_digits=14, decimal_places=2, default=_ZERO)
    excise_duty = models.DecimalField(_("excise duty"), max_digits=14, decimal_places=2, default=_ZERO)
    excise_tax = models.DecimalField(_("excise tax"), max_digits=14, decimal_places=2, default=_ZERO)
    gst = models.DecimalField(_("GST"), max_digits=14, decimal_places=2, default=_ZERO)
    other = models.DecimalField(
        _("other"), max_digits=14, decimal_places=2, default=_ZERO,
        help_text=_("Payments, interest, penalties and anything that is not a duty or tax."),
    )
    effective_date = models.DateField(_("effective date"))
    billing_period = models.DateField(
        _("billing period"), help_text=_("The period's last day: the 17th of the statement month.")
    )
    source_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False,
        verbose_name=_("source type"),
    )
    source_id = models.PositiveBigIntegerField(_("source id"), null=True, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    reference = models.CharField(
        _("reference"), max_length=40, blank=True, help_text=_("E.g. the CAD transaction number.")
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    # What the description says as a catalogue code and its values (billing.ledger.texts), rendered in
    # the reader's language when shown; blank for text typed by a person (shown as stored).
    description_code = models.CharField(_("description code"), max_length=40, blank=True, default="", db_default="")
    description_params = models.JSONField(_("description values"), blank=True, default=dict, db_default={})
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, verbose_name=_("created by"),
    )

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        db_table = "billing_ledgerentry"
        ordering = ["effective_date", "id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = [
            models.Index(fields=["program_account", "billing_period"], name="ledger_account_period"),
            models.Index(fields=["program_account", "effective_date"], name="ledger_account_effective"),
            models.Index(fields=["source_type", "source_id"], name="ledger_source"),
            # Daily notices: the entries posted on a day.
            models.Index(fields=["created_at"], name="ledger_created"),
            # The admin's exact search by transaction number (carm_portal.admin.BigTableAdmin).
            models.Index(fields=["reference"], name="ledger_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.effective_date} {self.get_kind_display()} {self.amount} ({self.reference or self.pk})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError("Ledger entries are append-only; post a new entry instead.")
        self.clean()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Ledger entries are append-only; post a reversing entry instead.")

    @property
    def duties_and_taxes(self) -> Decimal:
        return sum((getattr(self, f) for f in DUTIES_AND_TAXES_FIELDS), _ZERO)

    def clean(self) -> None:
        parts = sum((Decimal(getattr(self, f) or 0) for f in BREAKDOWN_FIELDS), _ZERO)
        if self.amount is None or Decimal(self.amount) != parts:
            raise ValidationError(
                {"amount": _("The amount must equal the sum of its breakdown by tax kind.")}
            )
        if self.billing_period is not None and not calendar.is_period_end(self.billing_period):
            raise ValidationError({"billing_period": _("A billing period ends on the 17th.")})
