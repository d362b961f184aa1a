"""RPP (Release Prior to Payment) enrolment and financial security (carm-rules §3).

- ``RppEnrolment`` (one per RM account) and its ``RppStatusChange`` history. The status is
  mirrored on ``accounts.ProgramAccount.rpp_status`` (what other code reads); only
  ``billing.rpp.services`` writes either.
- ``SecurityRequirement``: one row per computation, with its 12 monthly inputs, so the
  importer can see why. Exactly one row per RM is ``is_current``: the *binding* requirement,
  which changes only at enrolment, the annual review, a reduction decision and re-enrolment.
- ``SecurityForecast``: the monthly recompute, "if the review were today", kept apart (one per RM).
- ``Bond`` (a surety bond or eWSA) split across RM accounts by ``BondAllocation`` rows that
  never add up to more than the bond; ``CashDeposit`` rows point to the ledger entry
  (kind ``security_deposit``) that is the truth for cash held.
- ``ReductionRequest``: a request for a lower amount, decided by staff.
- ``Notice``: an in-portal notice (also emailed), unique by ``key`` so every job is idempotent.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Business, ProgramAccount

_ZERO = Decimal("0.00")


class RppStatus(models.TextChoices):
    NOT_ENROLLED = "not_enrolled", _("Not enrolled")
    REQUESTED = "requested", _("Requested")
    ENROLLED = "enrolled", _("Enrolled")
    SUSPENDED = "suspended", _("Suspended")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class RppEnrolment(models.Model):
    """An RM account's enrolment in the RPP sub-program."""

    program_account = models.OneToOneField(
        ProgramAccount, on_delete=models.PROTECT, related_name="rpp_enrolment", verbose_name=_("program account")
    )
    status = models.CharField(_("status"), max_length=15, choices=RppStatus.choices, default=RppStatus.NOT_ENROLLED)
    monthly_estimate = models.DecimalField(
        _("estimated monthly duties and taxes"), max_digits=14, decimal_places=2, null=True, blank=True,
        help_text=_("A new importer's estimate, used while there is no billing history."),
    )
    requested_at = models.DateTimeField(_("requested"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )
    status_changed_at = models.DateTimeField(_("status changed"), default=timezone.now)

    class Meta:
        ordering = ["program_account__number"]
        verbose_name = _("RPP enrolment")
        verbose_name_plural = _("RPP enrolments")

    def __str__(self) -> str:
        return f"{self.program_account.number}: {self.get_status_display()}"


class RppStatusChange(models.Model):
    """Who changed an enrolment's status, when, and why."""

    enrolment = models.ForeignKey(
        RppEnrolment, on_delete=models.CASCADE, related_name="changes", verbose_name=_("enrolment")
    )
    from_status = models.CharField(_("from"), max_length=15, choices=RppStatus.choices)
    to_status = models.CharField(_("to"), max_length=15, choices=RppStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("changed by"), help_text=_("Empty: the system (a scheduled job)."),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("RPP status change")
        verbose_name_plural = _("RPP status changes")

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status} ({self.changed_at:%Y-%m-%d})"


class SecurityRequirement(models.Model):
    """One computation of the security an RM account must post, with its inputs."""

    class Basis(models.TextChoices):
        HISTORY = "history", _("Billing history (highest month of the last 12)")
        ESTIMATE = "estimate", _("Importer's estimate (no billing history)")
        REDUCTION = "reduction", _("Reduction approved by CBSA staff")

    class Trigger(models.TextChoices):
        ANNUAL_REVIEW = "annual_review", _("Annual review")
        MONTHLY = "monthly", _("Monthly recomputation")
        ON_DEMAND = "on_demand", _("On demand")
        ENROLMENT = "enrolment", _("Enrolment")
        ESTIMATE = "estimate", _("New estimate")
        REDUCTION = "reduction", _("Reduction decision")

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="security_requirements",
        verbose_name=_("program account"),
    )
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices)
    trigger = models.CharField(_("trigger"), max_length=15, choices=Trigger.choices)
    as_of = models.DateField(_("as of"))
    first_period = models.DateField(_("first billing period"))
    last_period = models.DateField(_("last billing period"))
    # [{"period": "2025-11-17", "amount": "18200.00"}, ...] oldest first: the 12 inputs.
    monthly_totals = models.JSONField(_("monthly totals"), default=list)
    highest_month = models.DecimalField(_("highest month"), max_digits=14, decimal_places=2)
    highest_period = models.DateField(_("period of the highest month"), null=True, blank=True)
    monthly_estimate = models.DecimalField(
        _("monthly estimate"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    base_amount = models.DecimalField(
        _("requirement"), max_digits=14, decimal_places=2,
        help_text=_("The highest monthly amount owing (duties, taxes and SIMA, GST included), or the estimate."),
    )
    bond_share = models.DecimalField(_("bond share"), max_digits=5, decimal_places=4)
    minimum = models.DecimalField(_("minimum"), max_digits=14, decimal_places=2)
    maximum = models.DecimalField(_("maximum"), max_digits=14, decimal_places=2)
    bond_amount = models.DecimalField(_("bond / eWSA required"), max_digits=14, decimal_places=2)
    cash_amount = models.DecimalField(_("cash deposit required"), max_digits=14, decimal_places=2)
    previous_bond_amount = models.DecimalField(
        _("previous bond required"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    due_date = models.DateField(_("security due by"), help_text=_("A shortfall must be covered by this date."))
    reduction = models.ForeignKey(
        "ReductionRequest", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("reduction"),
    )
    is_current = models.BooleanField(_("current"), default=True)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("computed by"),
    )

    class Meta:
        ordering = ["-computed_at", "-id"]
        verbose_name = _("security requirement")
        verbose_name_plural = _("security requirements")
        constraints = [
            models.UniqueConstraint(
                fields=["program_account"], condition=Q(is_current=True), name="rpp_one_current_requirement"
            ),
        ]
        indexes = [models.Index(fields=["program_account", "computed_at"], name="rpp_req_account_computed")]

    def __str__(self) -> str:
        return f"{self.program_account.number}: bond {self.bond_amount} / cash {self.cash_amount} ({self.as_of})"

    @property
    def is_increase(self) -> bool:
        return self.previous_bond_amount is not None and self.bond_amount > self.previous_bond_amount


class SecurityForecast(models.Model):
    """What the annual review would set if it ran today: never binding (carm-rules §3).

    One row per RM, refreshed by the monthly job (the 26th) and on demand. The binding amount is
    the current ``SecurityRequirement``; this row only tells the importer where it is heading.
    """

    program_account = models.OneToOneField(
        ProgramAccount, on_delete=models.CASCADE, related_name="security_forecast", verbose_name=_("program account")
    )
    basis = models.CharField(_("basis"), max_length=10, choices=SecurityRequirement.Basis.choices)
    as_of = models.DateField(_("as of"))
    first_period = models.DateField(_("first billing period"))
    last_period = models.DateField(_("last billing period"))
    monthly_totals = models.JSONField(_("monthly totals"), default=list)
    highest_month = models.DecimalField(_("highest month"), max_digits=14, decimal_places=2)
    highest_period = models.DateField(_("period of the highest month"), null=True, blank=True)
    base_amount = models.DecimalField(_("base"), max_digits=14, decimal_places=2)
    bond_amount = models.DecimalField(_("bond / eWSA if reviewed today"), max_digits=14, decimal_places=2)
    cash_amount = models.DecimalField(_("cash deposit if reviewed today"), max_digits=14, decimal_places=2)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        verbose_name = _("security forecast")
        verbose_name_plural = _("security forecasts")

    def __str__(self) -> str:
        return f"{self.program_account.number}: forecast bond {self.bond_amount} ({self.as_of})"


class Bond(models.Model):
    """A surety bond or electronic written security agreement (eWSA) posted by an importer."""

    class Kind(models.TextChoices):
        EWSA = "ewsa", _("Electronic written security agreement (eWSA)")
        BOND = "bond", _("Surety bond")

    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="rpp_bonds", verbose_name=_("importer"))
    kind = models.CharField(_("kind"), max_length=5, choices=Kind.choices, default=Kind.EWSA)
    surety_name = models.CharField(_("surety"), max_length=200)
    bond_number = models.CharField(_("bond number"), max_length=50, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    effective_date = models.DateField(_("effective date"))
    expiry_date = models.DateField(_("expiry date"))
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        ordering = ["-effective_date", "-id"]
        verbose_name = _("bond / eWSA")
        verbose_name_plural = _("bonds / eWSAs")
        constraints = [
            models.CheckConstraint(name="rpp_bond_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="rpp_bond_dates_in_order", condition=Q(expiry_date__gte=models.F("effective_date"))),
        ]

    def __str__(self) -> str:
        return f"{self.bond_number} ({self.surety_name}, {self.amount})"

    def in_force_on(self, day) -> bool:
        return self.effective_date <= day <= self.expiry_date


class BondAllocation(models.Model):
    """How much of a bond covers one RM account. The allocations never exceed the bond."""

    bond = models.ForeignKey(Bond, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("bond"))
    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="bond_allocations", verbose_name=_("program account")
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["program_account__number"]
        verbose_name = _("bond allocation")
        verbose_name_plural = _("bond allocations")
        constraints = [
            models.UniqueConstraint(fields=["bond", "program_account"], name="rpp_one_allocation_per_bond_account"),
            models.CheckConstraint(name="rpp_allocation_amount_positive", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.bond.bond_number} → {self.program_account.number}: {self.amount}"


class CashDeposit(models.Model):
    """Cash posted as security. The money is the ledger entry (kind security_deposit, a credit that
    is held, never applied to debts); this row keeps who recorded it and its reference."""

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="cash_deposits", verbose_name=_("program account")
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    received_date = models.DateField(_("received"))
    reference = models.CharField(_("reference"), max_length=40, blank=True)
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("ledger entry"),
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        ordering = ["-received_date", "-id"]
        verbose_name = _("cash deposit")
        verbose_name_plural = _("cash deposits")
        constraints = [models.CheckConstraint(name="rpp_deposit_amount_positive", condition=Q(amount__gt=0))]

    def __str__(self) -> str:
        return f"{self.program_account.number}: {self.amount} ({self.received_date})"


class ReductionRequest(models.Model):
    """An importer asks for a lower bond amount; CBSA staff approve (with an amount) or reject."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.PROTECT, related_name="rpp_reduction_requests",
        verbose_name=_("program account"),
    )
    requirement = models.ForeignKey(
        SecurityRequirement, on_delete=models.PROTECT, related_name="reduction_requests",
        verbose_name=_("requirement"),
    )
    requested_amount = models.DecimalField(_("requested bond amount"), max_digits=14, decimal_places=2)
    rationale = models.TextField(_("rationale"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )
    approved_amount = models.DecimalField(
        _("approved bond amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("decided by"),
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("reduction request")
        verbose_name_plural = _("reduction requests")
        constraints = [
            models.UniqueConstraint(
                fields=["program_account"], condition=Q(status="pending"), name="rpp_one_pending_reduction"
            ),
            models.CheckConstraint(name="rpp_reduction_amount_not_negative", condition=Q(requested_amount__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.program_account.number}: {self.requested_amount} ({self.get_status_display()})"


class Notice(models.Model):
    """An in-portal notice about security (also emailed). ``key`` makes every sender idempotent."""

    class Kind(models.TextChoices):
        SHORTFALL = "shortfall", _("Security shortfall")
        BOND_EXPIRY = "bond_expiry", _("Bond expiring")
        REQUIREMENT_CHANGED = "requirement_changed", _("Requirement changed")
        SUSPENDED = "suspended", _("RPP suspended")
        FORECAST_GAP = "forecast_gap", _("Forecast above posted security")

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="rpp_notices", verbose_name=_("importer"))
    program_account = models.ForeignKey(
        ProgramAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="rpp_notices",
        verbose_name=_("program account"),
    )
    bond = models.ForeignKey(Bond, on_delete=models.CASCADE, null=True, blank=True, related_name="notices",
                             verbose_name=_("bond"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    threshold_days = models.PositiveSmallIntegerField(_("days before expiry"), null=True, blank=True)
    key = models.CharField(_("key"), max_length=120, unique=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"))
    # The sender's values (amounts as strings, dates ISO): pages render the text again from kind +
    # params in the reader's language (billing.rpp.notice_text). Empty on notices sent before.
    params = models.JSONField(_("values"), blank=True, default=dict, db_default={})
    emailed_to = models.CharField(_("emailed to"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("security notice")
        verbose_name_plural = _("security notices")
        indexes = [models.Index(fields=["business", "created_at"], name="rpp_notice_business_created")]

    def __str__(self) -> str:
        return self.subject
