"""Serializers for the RPP security API: output shapes and input shapes.

Inputs that point at an RM account take their choices from the access gate
(Scope.MANAGE_SECURITY), so an id outside the user's reach is "not found" (400), exactly like
an id that does not exist. Business rules stay in ``billing.rpp.services``.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import ProgramAccount
from carm_portal.validators import date_validators

from .models import (
    Bond,
    BondAllocation,
    CashDeposit,
    Notice,
    ReductionRequest,
    RppEnrolment,
    RppStatus,
    RppStatusChange,
    SecurityForecast,
    SecurityRequirement,
)
from .notice_text import notice_text, with_text

_MONEY = {"max_digits": 14, "decimal_places": 2}


class _AccountField(serializers.PrimaryKeyRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", ProgramAccount.objects.none())
        kwargs.setdefault("help_text", _("Id of an RM account whose security you may manage."))
        super().__init__(**kwargs)


class _GatedInput(serializers.Serializer):
    def __init__(self, *args, accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if accounts is not None:
            for field in self.fields.values():
                if isinstance(field, _AccountField):
                    field.queryset = accounts
                elif isinstance(field, serializers.ListSerializer) and isinstance(
                    getattr(field.child, "fields", {}).get("program_account"), _AccountField
                ):
                    field.child.fields["program_account"].queryset = accounts


# --- Enrolment -----------------------------------------------------------------------------------


class RppStatusChangeSerializer(serializers.ModelSerializer):
    # Plain strings (the values of rpp_status) so the schema names the status enum only once.
    from_status = serializers.CharField(read_only=True, help_text=_("An rpp_status value."))
    to_status = serializers.CharField(read_only=True, help_text=_("An rpp_status value."))
    actor_email = serializers.EmailField(source="actor.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = RppStatusChange
        fields = ["from_status", "to_status", "actor_email", "reason", "changed_at"]
        read_only_fields = fields


class RppEnrolmentSerializer(serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)
    history = RppStatusChangeSerializer(source="changes", many=True, read_only=True)
    rpp_status = serializers.ChoiceField(source="status", choices=RppStatus.choices, read_only=True)

    class Meta:
        model = RppEnrolment
        fields = ["id", "program_account", "program_account_number", "rpp_status", "monthly_estimate", "requested_at",
                  "status_changed_at", "history"]
        read_only_fields = fields


class EnrolmentRequestInputSerializer(_GatedInput):
    program_account = _AccountField()
    monthly_estimate = serializers.DecimalField(
        **_MONEY, required=False, allow_null=True, min_value=Decimal("0"),
        help_text=_("New importers: estimated monthly duties and taxes (GST included)."),
    )


class WithdrawInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)


# --- Requirements --------------------------------------------------------------------------------


class RequirementMonthSerializer(serializers.Serializer):
    period = serializers.DateField(help_text=_("The billing period's last day (the 17th)."))
    amount = serializers.DecimalField(**_MONEY)


class SecurityPositionSerializer(serializers.Serializer):
    bond_posted = serializers.DecimalField(**_MONEY, help_text=_("Bond / eWSA allocations in force today."))
    cash_posted = serializers.DecimalField(**_MONEY, help_text=_("Cash security deposits held."))
    bond_equivalent = serializers.DecimalField(**_MONEY)
    shortfall = serializers.DecimalField(**_MONEY, help_text=_("Bond amount still missing."))
    shortfall_cash = serializers.DecimalField(**_MONEY, help_text=_("The shortfall as a cash deposit."))
    utilization = serializers.DecimalField(
        max_digits=8, decimal_places=1, allow_null=True,
        help_text=_("The requirement as a percentage of posted security (null: nothing posted)."),
    )
    coverage_status = serializers.ChoiceField(source="status", choices=["none", "shortfall", "warning", "ok"])
    covered = serializers.BooleanField()


class SecurityForecastSerializer(serializers.ModelSerializer):
    """If the annual review were run today (never binding; refreshed monthly and on demand)."""

    monthly_totals = RequirementMonthSerializer(many=True, read_only=True)

    class Meta:
        model = SecurityForecast
        fields = ["basis", "as_of", "first_period", "last_period", "monthly_totals", "highest_month", "highest_period",
                  "base_amount", "bond_amount", "cash_amount", "computed_at"]
        read_only_fields = fields


class WhatIfSerializer(serializers.Serializer):
    """The security a monthly estimate would call for; nothing is stored."""

    monthly_estimate = serializers.DecimalField(**_MONEY)
    bond_amount = serializers.DecimalField(**_MONEY)
    cash_amount = serializers.DecimalField(**_MONEY)
    current_bond_amount = serializers.DecimalField(**_MONEY, allow_null=True,
                                                   help_text=_("The binding requirement (unchanged)."))
    current_cash_amount = serializers.DecimalField(**_MONEY, allow_null=True)
    bond_difference = serializers.DecimalField(**_MONEY, allow_null=True)


class SecurityRequirementSerializer(serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)
    monthly_totals = RequirementMonthSerializer(many=True, read_only=True)
    position = serializers.SerializerMethodField(help_text=_("Posted security against this requirement (current only)."))
    forecast = serializers.SerializerMethodField(
        help_text=_("If the annual review were today (current requirement only); never binding.")
    )

    class Meta:
        model = SecurityRequirement
        fields = [
            "id", "program_account", "program_account_number", "is_current", "basis", "trigger", "as_of",
            "first_period", "last_period", "monthly_totals", "highest_month", "highest_period", "monthly_estimate",
            "base_amount", "bond_share", "minimum", "maximum", "bond_amount", "cash_amount", "previous_bond_amount",
            "due_date", "reduction", "computed_at", "position", "forecast",
        ]
        read_only_fields = fields

    @extend_schema_field(SecurityPositionSerializer(allow_null=True))
    def get_position(self, obj):
        positions = self.context.get("positions") or {}
        pos = positions.get(obj.program_account_id)
        if not obj.is_current or pos is None:
            return None
        return SecurityPositionSerializer(pos).data

    @extend_schema_field(SecurityForecastSerializer(allow_null=True))
    def get_forecast(self, obj):
        forecast = (self.context.get("forecasts") or {}).get(obj.program_account_id)
        if not obj.is_current or forecast is None:
            return None
        return SecurityForecastSerializer(forecast).data


class RecomputeInputSerializer(_GatedInput):
    program_account = _AccountField()


class EstimateInputSerializer(_GatedInput):
    program_account = _AccountField()
    monthly_estimate = serializers.DecimalField(**_MONEY, min_value=Decimal("0"))


class _PeriodAmountSerializer(serializers.Serializer):
    period = serializers.DateField(help_text=_("A billing period of the review window (its 17th)."),
                                   validators=date_validators(future=True))
    amount = serializers.DecimalField(**_MONEY, min_value=Decimal("0"))


class ForecastInputSerializer(_GatedInput):
    program_account = _AccountField(help_text=_("Id of an RM account whose security you may see."))
    method = serializers.ChoiceField(choices=[("last_year", _("Same months last year")),
                                              ("run_rate", _("A monthly run rate"))], default="last_year")
    run_rate = serializers.DecimalField(**_MONEY, min_value=Decimal("0"), required=False,
                                        help_text=_("Monthly duties and taxes for the coming months (run_rate)."))
    months = _PeriodAmountSerializer(many=True, required=False, help_text=_("What-if: a month's amount replaced."))
    one_offs = _PeriodAmountSerializer(many=True, required=False, help_text=_("What-if: one-off shipments added."))


class ForecastMonthSerializer(serializers.Serializer):
    period = serializers.DateField()
    amount = serializers.DecimalField(**_MONEY)
    source = serializers.CharField(help_text=_("actual, projected or what-if"))
    one_off = serializers.DecimalField(**_MONEY)


class ForecastSerializer(serializers.Serializer):
    """The next annual review, forecast (read-only: the binding requirement is not touched)."""

    program_account = serializers.IntegerField(source="program_account.pk")
    today = serializers.DateField()
    review_date = serializers.DateField()
    increase_due = serializers.DateField()
    ask_surety_by = serializers.DateField(help_text=_("Ask the surety for a bigger bond by this day."))
    method = serializers.CharField()
    run_rate = serializers.DecimalField(**_MONEY)
    months = ForecastMonthSerializer(many=True)
    history = ForecastMonthSerializer(many=True)
    base = serializers.DecimalField(**_MONEY)
    highest_period = serializers.DateField(allow_null=True)
    bond_amount = serializers.DecimalField(**_MONEY)
    cash_amount = serializers.DecimalField(**_MONEY)
    bond_posted = serializers.DecimalField(**_MONEY)
    cash_posted = serializers.DecimalField(**_MONEY)
    current_bond_amount = serializers.DecimalField(**_MONEY, allow_null=True)
    bond_gap = serializers.DecimalField(**_MONEY)
    rules = serializers.ListField(child=serializers.CharField(), help_text=_("minimum / maximum when a bound applied"))


# --- Instruments ---------------------------------------------------------------------------------


class BondAllocationSerializer(serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = BondAllocation
        fields = ["program_account", "program_account_number", "amount"]
        read_only_fields = fields


class BondSerializer(serializers.ModelSerializer):
    bond_kind = serializers.ChoiceField(source="kind", choices=Bond.Kind.choices, read_only=True)
    allocations = BondAllocationSerializer(source="visible_allocations", many=True, read_only=True,
                                       help_text=_("Allocations to the RM accounts you may see."))

    class Meta:
        model = Bond
        fields = ["id", "business", "bond_kind", "surety_name", "bond_number", "amount", "effective_date", "expiry_date",
                  "allocations", "created_at"]
        read_only_fields = fields


class BondAllocationInputSerializer(serializers.Serializer):
    program_account = _AccountField()
    amount = serializers.DecimalField(**_MONEY, min_value=Decimal("0.01"))


class BondCreateInputSerializer(_GatedInput):
    bond_kind = serializers.ChoiceField(choices=Bond.Kind.choices, default=Bond.Kind.EWSA)
    surety_name = serializers.CharField(max_length=200)
    bond_number = serializers.CharField(max_length=50)
    amount = serializers.DecimalField(**_MONEY, min_value=Decimal("0.01"))
    effective_date = serializers.DateField(validators=date_validators(future=True))
    expiry_date = serializers.DateField(validators=date_validators(future=True))
    allocations = BondAllocationInputSerializer(many=True)

    def validate_allocations(self, value):
        if not value:
            raise serializers.ValidationError(_("Allocate the bond to at least one RM account."))
        businesses = {a["program_account"].business_id for a in value}
        if len(businesses) > 1:
            raise serializers.ValidationError(_("A bond covers RM accounts of one importer only."))
        return value


class BondAllocateInputSerializer(_GatedInput):
    program_account = _AccountField()
    amount = serializers.DecimalField(**_MONEY, min_value=Decimal("0.01"))


class CashDepositSerializer(serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = CashDeposit
        fields = ["id", "program_account", "program_account_number", "amount", "received_date", "reference",
                  "ledger_entry", "created_at"]
        read_only_fields = fields


class DepositCreateInputSerializer(_GatedInput):
    program_account = _AccountField()
    amount = serializers.DecimalField(**_MONEY, min_value=Decimal("0.01"))
    received_date = serializers.DateField(validators=date_validators(future=False))
    reference = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


# --- Reductions and notices ----------------------------------------------------------------------


class ReductionRequestSerializer(serializers.ModelSerializer):
    review_status = serializers.ChoiceField(source="status", choices=ReductionRequest.Status.choices, read_only=True)
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = ReductionRequest
        fields = ["id", "program_account", "program_account_number", "requirement", "requested_amount", "rationale",
                  "review_status", "requested_at", "approved_amount", "decision_note", "decided_at"]
        read_only_fields = fields


class ReductionCreateInputSerializer(_GatedInput):
    program_account = _AccountField()
    requested_amount = serializers.DecimalField(**_MONEY, min_value=Decimal("0"))
    rationale = serializers.CharField()


class _NoticeList(serializers.ListSerializer):
    def to_representation(self, data):
        # One query for every notice's requirement rows (notice_text.with_text), not one per notice.
        return super().to_representation(with_text(data.all() if hasattr(data, "all") else data))


class SecurityNoticeSerializer(serializers.ModelSerializer):
    """``subject`` and ``body`` in the request's language (Accept-Language), from the values the
    sender stored (``params``), as the pages show them; ``sent_subject`` / ``sent_body`` as emailed."""

    notice_kind = serializers.ChoiceField(source="kind", choices=Notice.Kind.choices, read_only=True)
    subject = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    sent_subject = serializers.CharField(source="subject", read_only=True)
    sent_body = serializers.CharField(source="body", read_only=True)
    program_account_number = serializers.CharField(source="program_account.number", read_only=True, allow_null=True,
                                                   default=None)
    bond_number = serializers.CharField(source="bond.bond_number", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Notice
        fields = ["id", "notice_kind", "program_account", "program_account_number", "bond", "bond_number", "threshold_days",
                  "subject", "body", "sent_subject", "sent_body", "params", "created_at", "read_at"]
        read_only_fields = fields
        list_serializer_class = _NoticeList

    def _text(self, notice):
        if getattr(notice, "text", None) is None:
            notice.text = notice_text(notice)
        return notice.text

    def get_subject(self, notice) -> str:
        return self._text(notice).subject

    def get_body(self, notice) -> str:
        return self._text(notice).body
