"""Commercial Accounting Declarations (CADs): reference tables, the CAD, its lines and versions.

Write paths live in ``declarations.services``; reads in ``declarations.selectors``. Amounts are
computed by ``declarations.calculation`` and stored, so lists and statements never recompute.

Volume: about 3.4 million CADs and 20 million lines a month. The CAD table is indexed for the
queries the portal runs (an account's CADs by status and release date, due dates for the
late/due-soon checks, the transaction number); lines are only ever read by their CAD.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Business, ProgramAccount

from .calculation import Totals

_ZERO = Decimal("0.00")
TEN_DIGITS = RegexValidator(r"^\d{10}$", _("A classification has 10 digits (tariff item + statistical suffix)."))
FOURTEEN_DIGITS = RegexValidator(r"^\d{14}$", _("A transaction number has exactly 14 digits."))
FOUR_DIGITS = RegexValidator(r"^\d{4}$", _("A CBSA office code has 4 digits."))
CURRENCY = RegexValidator(r"^[A-Z]{3}$", _("A currency is a 3-letter ISO code, e.g. USD."))
COUNTRY = RegexValidator(r"^[A-Z]{2}$", _("A country is a 2-letter ISO code, e.g. US."))


def _money(verbose_name, **kwargs):
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=2, default=_ZERO, **kwargs)


def _rate(verbose_name, **kwargs):
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=6, **kwargs)


# --- Reference tables ----------------------------------------------------------------------------

class TariffTreatment(models.Model):
    """A tariff treatment (MFN, UST, CPTPT...), keyed by its abbreviation."""

    class OriginRule(models.TextChoices):
        ONLY = "only", _("Only the listed countries")
        EXCEPT = "except", _("Any country except the listed ones")

    code = models.CharField(_("abbreviation"), max_length=8, primary_key=True)
    name_en = models.CharField(_("name (English)"), max_length=150)
    name_fr = models.CharField(_("name (French)"), max_length=150)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    # Which countries of origin the treatment allows (declarations.reference_tables, with sources).
    origin_rule = models.CharField(_("countries of origin"), max_length=6, choices=OriginRule.choices,
                                   default=OriginRule.ONLY)
    origin_countries = models.TextField(
        _("countries"), blank=True,
        help_text=_("2-letter ISO codes separated by spaces, e.g. US PR. With \"only\", an empty list allows no "
                    "country."),
    )
    proof_of_origin_required = models.BooleanField(
        _("proof of origin required"), default=True,
        help_text=_("A claim of this treatment must record that proof of origin is on file."),
    )
    source = models.TextField(_("source"), blank=True, help_text=_("Where the list comes from."))

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("tariff treatment")
        verbose_name_plural = _("tariff treatments")

    def __str__(self) -> str:
        return self.code

    @property
    def countries(self) -> frozenset[str]:
        return frozenset(self.origin_countries.upper().replace(",", " ").split())

    def allows_origin(self, country: str) -> bool:
        listed = country.upper() in self.countries
        return listed if self.origin_rule == self.OriginRule.ONLY else not listed

    def name(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        return self.name_fr if (language or get_language() or "en").startswith("fr") else self.name_en


class GstStatus(models.Model):
    """The GST status of imported goods: taxable at the GST rate, or a non-taxable importation
    (Excise Tax Act Schedule VII). Codes and sources: ``declarations.reference_tables``."""

    code = models.CharField(_("code"), max_length=8, primary_key=True)
    taxable = models.BooleanField(_("taxable"), help_text=_("Taxable: GST at the GST rate; otherwise no GST."))
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_fr = models.CharField(_("name (French)"), max_length=200)
    legal_basis = models.CharField(_("legal basis"), max_length=200, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("GST status")
        verbose_name_plural = _("GST statuses")

    def __str__(self) -> str:
        return self.code

    def name(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        return self.name_fr if (language or get_language() or "en").startswith("fr") else self.name_en


class ReasonCode(models.Model):
    """A correction/adjustment reason code (memo D17-2-1 App. A): an importer's, or reserved for CBSA."""

    class Party(models.TextChoices):
        IMPORTER = "importer", _("Importer")
        CBSA = "cbsa", _("Reserved for CBSA")

    code = models.CharField(_("code"), max_length=20, primary_key=True)
    party = models.CharField(_("used by"), max_length=8, choices=Party.choices, default=Party.IMPORTER)
    description_en = models.CharField(_("description (English)"), max_length=300)
    description_fr = models.CharField(_("description (French)"), max_length=300)
    source = models.CharField(_("source"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("reason code")
        verbose_name_plural = _("reason codes")

    def __str__(self) -> str:
        return self.code

    def description(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        return self.description_fr if (language or get_language() or "en").startswith("fr") else self.description_en


class TariffItem(models.Model):
    """A 10-digit classification of the Customs Tariff with its rates by treatment."""

    classification = models.CharField(_("classification"), max_length=10, unique=True, validators=[TEN_DIGITS])
    description_en = models.CharField(_("description (English)"), max_length=300)
    description_fr = models.CharField(_("description (French)"), max_length=300)
    unit_of_measure = models.CharField(_("unit of measure"), max_length=3, default="NMB")
    excise_duty_per_unit = _rate(
        _("excise duty per unit"), null=True, blank=True,
        help_text=_("Specific excise duty in CAD per unit of measure (alcohol, tobacco), if any."),
    )
    excise_tax_per_unit = _rate(
        _("excise tax per unit"), null=True, blank=True,
        help_text=_("Specific excise tax in CAD per unit of measure (e.g. vehicle air conditioners), if any."),
    )
    gst_status = models.ForeignKey(
        GstStatus, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False,
        verbose_name=_("GST status"), help_text=_("The goods' default GST status. Empty: taxable."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["classification"]
        verbose_name = _("tariff item")
        verbose_name_plural = _("tariff items")

    def __str__(self) -> str:
        return f"{self.formatted} {self.description_en[:60]}"

    @property
    def formatted(self) -> str:
        c = self.classification
        return f"{c[:4]}.{c[4:6]}.{c[6:8]}.{c[8:]}"

    def description(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        return self.description_fr if (language or get_language() or "en").startswith("fr") else self.description_en


class TariffRate(models.Model):
    """The ad valorem rate of duty of a tariff item under one treatment (a fraction: 0.065 = 6.5 %)."""

    tariff_item = models.ForeignKey(TariffItem, on_delete=models.CASCADE, related_name="rates",
                                    verbose_name=_("tariff item"))
    treatment = models.ForeignKey(TariffTreatment, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("treatment"))
    rate = models.DecimalField(_("rate"), max_digits=9, decimal_places=6,
                               help_text=_("A fraction: 0.065 for 6.5 %, 0 for Free."))

    class Meta:
        ordering = ["tariff_item", "treatment"]
        verbose_name = _("tariff rate")
        verbose_name_plural = _("tariff rates")
        constraints = [
            models.UniqueConstraint(fields=["tariff_item", "treatment"], name="one_rate_per_item_and_treatment"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="tariff_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.tariff_item.classification} {self.treatment_id}: {self.rate}"


class ExchangeRate(models.Model):
    """Bank of Canada rate: 1 unit of ``currency`` in CAD, on ``date``."""

    currency = models.CharField(_("currency"), max_length=3, validators=[CURRENCY])
    date = models.DateField(_("date"))
    rate = _rate(_("rate to CAD"))

    class Meta:
        ordering = ["currency", "-date"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="one_rate_per_currency_and_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date}: {self.rate}"


# --- The CAD ---------------------------------------------------------------------------------------

class _TotalsMixin:
    """The stored totals of a CAD or of one of its versions, as a ``Totals`` value."""

    @property
    def totals(self) -> Totals:
        return Totals(
            vfd=self.vfd_total, duty=self.duty_total, sima=self.sima_total,
            excise_duty=self.excise_duty_total, excise_tax=self.excise_tax_total, gst=self.gst_total,
        )

    def set_totals(self, totals: Totals) -> None:
        self.vfd_total = totals.vfd
        self.duty_total = totals.duty
        self.sima_total = totals.sima
        self.excise_duty_total = totals.excise_duty
        self.excise_tax_total = totals.excise_tax
        self.gst_total = totals.gst
        self.dt_total = totals.duties_and_taxes


class CAD(_TotalsMixin, models.Model):
    """A Commercial Accounting Declaration. One transaction number across all its versions.

    The totals are those of the *current* (last approved) version; ``lines`` are its lines.
    """

    class Type(models.TextChoices):
        REGULAR = "regular", _("Regular")
        COURIER_LVS = "courier_lvs", _("Courier low-value shipment")
        CONTINUOUS = "continuous", _("Continuous transmission (pipeline, wire)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class TransportMode(models.TextChoices):
        AIR = "air", _("Air")
        HIGHWAY = "highway", _("Highway")
        RAIL = "rail", _("Rail")
        MARINE = "marine", _("Marine")
        POSTAL = "postal", _("Postal")
        COURIER = "courier", _("Courier")
        PIPELINE = "pipeline", _("Pipeline / wire")
        OTHER = "other", _("Other")

    class PaymentTiming(models.TextChoices):
        # carm-rules §3; the rule is declarations.payment_timing.
        ON_RELEASE = "on_release", _("Due on release (no RPP)")
        DEFERRED = "deferred", _("Deferred to the monthly statement (RPP)")

    # Not yet submitted: may still become late.
    OPEN_STATUSES = (Status.DRAFT, Status.REJECTED)

    transaction_number = models.CharField(
        _("transaction number"), max_length=14, unique=True, validators=[FOURTEEN_DIGITS]
    )
    # Indexed by the composite indexes below, which all start with it.
    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="cads", db_index=False,
        verbose_name=_("importer RM account"),
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("filed by")
    )
    broker = models.ForeignKey(
        Business, on_delete=models.PROTECT, null=True, blank=True, related_name="cads_filed",
        verbose_name=_("customs broker"), help_text=_("Empty: filed by the importer itself."),
    )
    cad_type = models.CharField(_("type"), max_length=15, choices=Type.choices, default=Type.REGULAR)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    release_date = models.DateField(_("release date"), null=True, blank=True)
    direct_shipment_date = models.DateField(_("date of direct shipment"), null=True, blank=True)
    office_code = models.CharField(_("CBSA office"), max_length=4, blank=True, validators=[FOUR_DIGITS])
    transport_mode = models.CharField(
        _("mode of transport"), max_length=10, choices=TransportMode.choices, default=TransportMode.HIGHWAY
    )
    cargo_control_number = models.CharField(_("cargo control number"), max_length=25, blank=True)
    vendor_name = models.CharField(_("vendor"), max_length=200, blank=True)
    vendor_country = models.CharField(_("vendor country"), max_length=2, blank=True)
    invoice_number = models.CharField(_("invoice number"), max_length=50, blank=True)
    invoice_currency = models.CharField(_("invoice currency"), max_length=3, default="CAD", validators=[CURRENCY])
    purchase_order = models.CharField(_("purchase order"), max_length=50, blank=True)
    due_date = models.DateField(_("accounting due date"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    submitted_late = models.BooleanField(_("submitted late"), default=False)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected"), null=True, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    billing_period = models.DateField(
        _("billing period charged"), null=True, blank=True,
        help_text=_("The period (its 17th) the original charge was posted in."),
    )
    current_version = models.PositiveIntegerField(_("current version"), default=0)
    # Decided once, when the CAD is submitted, from the RPP status on the day of release
    # (declarations.payment_timing); a later change of status does not change it. Empty: a draft.
    payment_timing = models.CharField(
        _("payment timing"), max_length=10, choices=PaymentTiming.choices, blank=True, default="",
        help_text=_("Pay-at-release (cash) CAD without RPP, or deferred to the monthly statement with RPP."),
    )
    vfd_total = _money(_("value for duty"))
    duty_total = _money(_("customs duty"))
    sima_total = _money(_("SIMA duty"))
    excise_duty_total = _money(_("excise duty"))
    excise_tax_total = _money(_("excise tax"))
    gst_total = _money(_("GST"))
    dt_total = _money(_("duties and taxes"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["-release_date", "-id"]
        verbose_name = _("CAD")
        verbose_name_plural = _("CADs")
        indexes = [
            models.Index(fields=["program_account", "status"], name="cad_account_status"),
            models.Index(fields=["program_account", "-release_date"], name="cad_account_release"),
            models.Index(fields=["status", "due_date"], name="cad_status_due"),
            # The billing cycle's read of pay-at-release charges (billing.overdue): an account's
            # cash CADs billed from a period on; only those rows are indexed.
            models.Index(fields=["program_account", "billing_period"], condition=Q(payment_timing="on_release"),
                         name="cad_cash_by_period"),
        ]

    def __str__(self) -> str:
        return f"CAD {self.transaction_number}"

    def is_late(self, today: date | None = None) -> bool:
        """Not yet submitted and past its accounting due date, or submitted after it."""
        today = today or timezone.localdate()
        if self.submitted_late:
            return True
        return self.status in self.OPEN_STATUSES and self.due_date is not None and self.due_date < today

    @property
    def pays_on_release(self) -> bool:
        return self.payment_timing == self.PaymentTiming.ON_RELEASE

    @property
    def payment_due_date(self):
        """When its duties and taxes must be paid (declarations.deadlines)."""
        from .deadlines import payment_due_date

        return payment_due_date(self)

    @property
    def is_editable(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def accounting_date(self):
        """The day the CAD was accounted (accepted by CBSA); s.74's four years count from it."""
        accounted = self.accepted_at or self.submitted_at
        return timezone.localdate(accounted) if accounted else None


class CADLine(models.Model):
    """One invoice line of the CAD's current version. Amounts are computed, never typed."""

    cad = models.ForeignKey(CAD, on_delete=models.CASCADE, related_name="lines", db_index=False,
                            verbose_name=_("CAD"))  # the (cad, line_no) unique index covers it
    line_no = models.PositiveSmallIntegerField(_("line"))
    description = models.CharField(_("description"), max_length=300)
    description_2 = models.CharField(_("second description"), max_length=300, blank=True)
    # Tariff items are retired (is_active=False), not deleted: no index needed for PROTECT.
    classification = models.ForeignKey(
        TariffItem, to_field="classification", db_column="classification", on_delete=models.PROTECT,
        related_name="+", db_index=False, verbose_name=_("classification"),
    )
    treatment = models.ForeignKey(
        TariffTreatment, on_delete=models.PROTECT, related_name="+", db_index=False,
        verbose_name=_("tariff treatment"),
    )
    origin_country = models.CharField(_("country of origin"), max_length=2, validators=[COUNTRY])
    proof_of_origin = models.BooleanField(
        _("proof of origin on file"), default=False,
        help_text=_("Required to claim a preferential tariff treatment."),
    )
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3, default=Decimal("1"))
    unit = models.CharField(_("unit"), max_length=3, default="NMB")
    value_foreign = models.DecimalField(_("value (invoice currency)"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, validators=[CURRENCY])
    # What the filer typed (empty: take the table's), checked against the tables on submission.
    declared_exchange_rate = _rate(_("declared exchange rate"), null=True, blank=True)
    declared_duty_rate = models.DecimalField(
        _("declared duty rate"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    # The rates used. Empty only on a draft whose rate could not be looked up yet.
    exchange_rate = _rate(_("exchange rate"), null=True, blank=True)
    vfd = _money(_("value for duty"))
    duty_rate = models.DecimalField(_("duty rate"), max_digits=9, decimal_places=6, null=True, blank=True)
    duty = _money(_("customs duty"))
    sima = _money(_("SIMA duty"))
    excise_duty = _money(_("excise duty"))
    excise_tax = _money(_("excise tax"))
    # The GST status code the filer typed (empty: the tariff item's), and the one applied.
    declared_gst_status = models.CharField(_("declared GST status"), max_length=8, blank=True)
    gst_status = models.ForeignKey(
        GstStatus, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False,
        verbose_name=_("GST status"), help_text=_("Empty: taxable (no status looked up yet, or none set)."),
    )
    gst = _money(_("GST"))

    class Meta:
        ordering = ["cad", "line_no"]
        verbose_name = _("CAD line")
        verbose_name_plural = _("CAD lines")
        constraints = [models.UniqueConstraint(fields=["cad", "line_no"], name="one_line_no_per_cad")]

    def __str__(self) -> str:
        return f"{self.cad_id}/{self.line_no} {self.classification_id}"

    @property
    def duties_and_taxes(self) -> Decimal:
        return self.duty + self.sima + self.excise_duty + self.excise_tax + self.gst


class CADVersion(_TotalsMixin, models.Model):
    """One filed state of a CAD: the original, a correction, an adjustment or a withdrawal.

    Frozen: the lines are a JSON snapshot, the totals are copied, and ``diff`` says what changed
    against the version it amends. ``ledger_entry`` is the difference it posted, if any.
    """

    class Kind(models.TextChoices):
        ORIGINAL = "original", _("Original")
        CORRECTION = "correction", _("Correction")
        ADJUSTMENT = "adjustment", _("Adjustment")
        WITHDRAWAL = "withdrawal", _("Withdrawal")

    class Status(models.TextChoices):
        APPROVED = "approved", _("Approved")
        AUTO_APPROVED = "auto_approved", _("Auto-approved")
        PENDING_REVIEW = "pending_review", _("Pending CBSA review")
        REJECTED = "rejected", _("Rejected")

    class LegalBasis(models.TextChoices):
        NONE = "", _("Not applicable")
        S32_2 = "s32_2", _("Customs Act s. 32.2 (correction)")
        S74 = "s74", _("Customs Act s. 74 (refund)")
        OTHER = "other", _("Other")

    APPLIED_STATUSES = (Status.APPROVED, Status.AUTO_APPROVED)

    cad = models.ForeignKey(CAD, on_delete=models.CASCADE, related_name="versions", db_index=False,
                            verbose_name=_("CAD"))  # the (cad, number) unique index covers it
    number = models.PositiveIntegerField(_("version"))
    base_number = models.PositiveIntegerField(_("amends version"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=15, choices=Status.choices)
    reason_codes = models.JSONField(_("reason codes"), default=list, blank=True)
    remarks = models.TextField(_("remarks"), blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=8, choices=LegalBasis.choices, blank=True)
    reason_to_believe_date = models.DateField(_("reason to believe since"), null=True, blank=True)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False,
        verbose_name=_("filed by"),
    )
    filed_at = models.DateTimeField(_("filed"), default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    review_reason = models.TextField(_("review reason"), blank=True)
    lines = models.JSONField(_("lines (snapshot)"), default=list)
    diff = models.JSONField(_("changes against the amended version"), default=dict, blank=True)
    vfd_total = _money(_("value for duty"))
    duty_total = _money(_("customs duty"))
    sima_total = _money(_("SIMA duty"))
    excise_duty_total = _money(_("excise duty"))
    excise_tax_total = _money(_("excise tax"))
    gst_total = _money(_("GST"))
    dt_total = _money(_("duties and taxes"))
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="cad_version",
        verbose_name=_("ledger entry"),
    )

    class Meta:
        ordering = ["cad", "number"]
        verbose_name = _("CAD version")
        verbose_name_plural = _("CAD versions")
        constraints = [
            models.UniqueConstraint(fields=["cad", "number"], name="one_version_number_per_cad"),
            models.UniqueConstraint(
                fields=["cad"], condition=Q(status="pending_review"), name="one_pending_adjustment_per_cad"
            ),
        ]
        indexes = [
            models.Index(fields=["status"], condition=Q(status="pending_review"), name="cadversion_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.cad} v{self.number} ({self.get_kind_display()})"


# --- Plumbing ---------------------------------------------------------------------------------------

class TransactionNumberCounter(models.Model):
    """The last number handed out under one account-security prefix: the counter on SQLite; on PostgreSQL
    where a prefix's sequence starts (``declarations.transaction_numbers``)."""

    prefix = models.CharField(_("prefix"), max_length=5, primary_key=True)
    last_value = models.PositiveBigIntegerField(_("last value"), default=0)

    class Meta:
        verbose_name = _("transaction number counter")
        verbose_name_plural = _("transaction number counters")

    def __str__(self) -> str:
        return f"{self.prefix}: {self.last_value}"


class CsvUpload(models.Model):
    """One CSV upload of CADs and its outcome: the upload history, and for a finished import each
    file reference (``cad_ref``, or the transaction number the file gave) → the CAD created."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        CHECKING = "checking", _("Checking")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Nothing imported")

    upload_id = models.CharField(_("upload id"), max_length=32, unique=True)
    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.CASCADE, related_name="csv_uploads", verbose_name=_("program account")
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("uploaded by"),
    )
    broker = models.ForeignKey(
        Business, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("broker")
    )
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    cad_count = models.PositiveIntegerField(_("CADs"), default=0)
    error_count = models.PositiveIntegerField(_("problems"), default=0)
    dt_total = models.DecimalField(_("duties and taxes"), max_digits=16, decimal_places=2, default=Decimal("0.00"))
    vfd_total = models.DecimalField(_("value for duty"), max_digits=16, decimal_places=2, default=Decimal("0.00"))
    # [{"ref", "row", "lines", "cad", "transaction_number", "vfd", "dt"}], in file order.
    results = models.JSONField(_("results"), default=list, blank=True)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("CSV upload")
        verbose_name_plural = _("CSV uploads")
        indexes = [models.Index(fields=["program_account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.file_name or self.upload_id} ({self.status})"
