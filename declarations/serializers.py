"""Serializers for the CAD API: output shapes, and the input shapes the endpoints parse.

Input serializers check types and formats only; the rules (tariff lookups, dates, check digits,
RM account kind) live in ``declarations.services``, whose ``ApplicationError`` answers 400 with
field messages keyed like ``release_date`` or ``lines.0.classification``. The RM account a CAD
is filed under is chosen among those the access gate allows, so another importer's account is
"not found" exactly like one that does not exist.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import ProgramAccount
from accounts.serializers import BusinessBriefSerializer, ProgramAccountBriefSerializer
from carm_portal.api import FieldsBuiltOnce
from carm_portal.validators import date_validators

from . import payment_timing
from .models import (
    CAD,
    CADLine,
    CADVersion,
    ExchangeRate,
    GstStatus,
    ReasonCode,
    TariffItem,
    TariffRate,
    TariffTreatment,
)

_MONEY = {"max_digits": 14, "decimal_places": 2}


# --- Output ---------------------------------------------------------------------------------------

class CadLineSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    classification = serializers.CharField(source="classification_id", read_only=True)
    treatment = serializers.CharField(source="treatment_id", read_only=True)
    gst_status = serializers.CharField(source="gst_status_id", read_only=True, allow_null=True,
                                       help_text=_("The GST status applied (null: taxable)."))
    duties_and_taxes = serializers.DecimalField(read_only=True, **_MONEY)

    class Meta:
        model = CADLine
        fields = [
            "line_no", "description", "description_2", "classification", "treatment", "origin_country",
            "proof_of_origin", "quantity", "unit", "value_foreign", "currency", "declared_exchange_rate",
            "declared_duty_rate", "exchange_rate", "duty_rate", "vfd", "duty", "sima", "excise_duty", "excise_tax",
            "declared_gst_status", "gst_status", "gst", "duties_and_taxes",
        ]
        read_only_fields = fields


class LedgerEffectSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    amount = serializers.DecimalField(read_only=True, help_text=_("Signed: negative is a credit."), **_MONEY)
    effective_date = serializers.DateField(read_only=True)
    billing_period = serializers.DateField(read_only=True)


class CadVersionSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    filed_by = serializers.EmailField(source="filed_by.email", read_only=True)
    ledger_entry = LedgerEffectSerializer(read_only=True, allow_null=True,
                                          help_text=_("What this version posted to the ledger, if anything."))
    reason_codes = serializers.ListField(child=serializers.CharField(), read_only=True)
    diff = serializers.JSONField(read_only=True, help_text=_("Changes against the version it amends."))
    # Plain strings in the schema: enums named "kind"/"status" would collide with other apps' ones.
    kind = serializers.CharField(read_only=True, help_text=_("original, correction, adjustment or withdrawal."))
    status = serializers.CharField(read_only=True,
                                   help_text=_("approved, auto_approved, pending_review or rejected."))

    class Meta:
        model = CADVersion
        fields = [
            "number", "base_number", "kind", "status", "reason_codes", "remarks", "legal_basis",
            "reason_to_believe_date", "filed_by", "filed_at", "reviewed_at", "review_reason", "diff",
            "vfd_total", "duty_total", "sima_total", "excise_duty_total", "excise_tax_total", "gst_total",
            "dt_total", "ledger_entry",
        ]
        read_only_fields = fields


class CadSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """A CAD in a list: header and totals, no lines."""

    program_account = ProgramAccountBriefSerializer(read_only=True)
    broker = BusinessBriefSerializer(read_only=True, allow_null=True)
    late = serializers.SerializerMethodField()
    payment_timing = serializers.SerializerMethodField()
    payment_due_date = serializers.SerializerMethodField()
    payment_warning = serializers.SerializerMethodField()
    # A plain string in the schema: the CAD status enum would otherwise collide with the other
    # apps' "status" enums in two components (Cad, CadDetail) and warn.
    status = serializers.CharField(read_only=True, help_text=_("draft, submitted, accepted, rejected or withdrawn."))

    class Meta:
        model = CAD
        fields = [
            "id", "transaction_number", "program_account", "broker", "cad_type", "status", "release_date",
            "direct_shipment_date", "office_code", "transport_mode", "cargo_control_number", "vendor_name",
            "vendor_country", "invoice_number", "invoice_currency", "purchase_order", "due_date", "late",
            "submitted_at", "submitted_late", "accepted_at", "rejected_at", "rejection_reason", "withdrawn_at",
            "billing_period", "current_version", "vfd_total", "duty_total", "sima_total", "excise_duty_total",
            "excise_tax_total", "gst_total", "dt_total", "payment_timing", "payment_due_date", "payment_warning",
            "created_at", "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField(help_text=_("Not submitted past its due date, or submitted late.")))
    def get_late(self, cad: CAD) -> bool:
        return cad.is_late()

    def _shown(self, cad: CAD) -> payment_timing.Shown:
        cache = self.context.setdefault("_payment_timing", {})
        if cad.pk not in cache:
            cache[cad.pk] = payment_timing.shown(cad, today=timezone.localdate())
        return cache[cad.pk]

    @extend_schema_field(serializers.ChoiceField(
        choices=CAD.PaymentTiming.choices,
        help_text=_("on_release: a pay-at-release (cash) CAD, the RM account had no RPP on the day of release "
                    "(not enrolled or suspended); duties and taxes are due on release. deferred: RPP applies, "
                    "they are billed on the monthly statement. Recorded when the CAD is submitted and never "
                    "changed after; for a draft, what filing it now would give."),
    ))
    def get_payment_timing(self, cad: CAD) -> str:
        return self._shown(cad).timing

    @extend_schema_field(serializers.DateField(
        allow_null=True,
        help_text=_("When the duties and taxes must be paid: the release date for a pay-at-release CAD, else the "
                    "due date of the monthly statement it is (or would be) billed on."),
    ))
    def get_payment_due_date(self, cad: CAD):
        return self._shown(cad).due_date

    @extend_schema_field(serializers.CharField(
        help_text=_("For a pay-at-release CAD, the warning shown before filing (and what RPP enrolment would "
                    "change); empty otherwise."),
    ))
    def get_payment_warning(self, cad: CAD) -> str:
        return self._shown(cad).warning


class CadDetailSerializer(CadSerializer):
    lines = CadLineSerializer(many=True, read_only=True)
    versions = CadVersionSerializer(many=True, read_only=True)

    class Meta(CadSerializer.Meta):
        fields = [*CadSerializer.Meta.fields, "lines", "versions"]
        read_only_fields = fields


class TariffRateSerializer(serializers.ModelSerializer):
    treatment = serializers.CharField(source="treatment_id", read_only=True)

    class Meta:
        model = TariffRate
        fields = ["treatment", "rate"]
        read_only_fields = fields


class TariffItemSerializer(serializers.ModelSerializer):
    rates = TariffRateSerializer(many=True, read_only=True)

    class Meta:
        model = TariffItem
        fields = ["classification", "description_en", "description_fr", "unit_of_measure",
                  "excise_duty_per_unit", "excise_tax_per_unit", "gst_status", "rates"]
        read_only_fields = fields


class TariffTreatmentSerializer(serializers.ModelSerializer):
    countries = serializers.SerializerMethodField()

    class Meta:
        model = TariffTreatment
        fields = ["code", "name_en", "name_fr", "origin_rule", "countries", "proof_of_origin_required", "source"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField(),
                                               help_text=_("ISO codes; see origin_rule (only / except).")))
    def get_countries(self, treatment: TariffTreatment) -> list[str]:
        return sorted(treatment.countries)


class GstStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = GstStatus
        fields = ["code", "taxable", "name_en", "name_fr", "legal_basis"]
        read_only_fields = fields


class ReasonCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonCode
        fields = ["code", "party", "description_en", "description_fr", "source"]
        read_only_fields = fields


class ExchangeRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExchangeRate
        fields = ["currency", "date", "rate"]
        read_only_fields = fields


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(read_only=True, help_text=_("The header is row 1."))
    column = serializers.CharField(read_only=True)
    message = serializers.CharField(read_only=True)


class ImportFailedSerializer(serializers.Serializer):
    # Not read-only, so not required: a file that fails the input checks answers field errors.
    detail = serializers.CharField(required=False)
    errors = ImportErrorSerializer(many=True, required=False, help_text=_("The file's problems, by row."))
    file = serializers.ListField(child=serializers.CharField(), required=False)
    program_account = serializers.ListField(child=serializers.CharField(), required=False)


class ImportResultSerializer(serializers.Serializer):
    cad_count = serializers.IntegerField(read_only=True)
    line_count = serializers.IntegerField(read_only=True)
    cads = CadSerializer(many=True, read_only=True)


# --- Input ----------------------------------------------------------------------------------------

class CadLineInputSerializer(serializers.Serializer):
    line_no = serializers.IntegerField(required=False, min_value=1, max_value=999,
                                       help_text=_("Default: the line's position."))
    description = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")
    description_2 = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")
    classification = serializers.CharField(max_length=13, help_text=_("10 digits; dots allowed (6109.10.00.11)."))
    treatment = serializers.CharField(max_length=8, help_text=_("Tariff treatment abbreviation: MFN, UST, CPTPT…"))
    origin_country = serializers.CharField(max_length=2, allow_blank=True, required=False, default="")
    proof_of_origin = serializers.BooleanField(
        required=False, default=False,
        help_text=_("Proof of origin is on file: required to claim any treatment but MFN."),
    )
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3, required=False, allow_null=True)
    unit = serializers.CharField(max_length=3, allow_blank=True, required=False, default="")
    value_foreign = serializers.DecimalField(help_text=_("In the line's currency."), **_MONEY)
    currency = serializers.CharField(max_length=3, allow_blank=True, required=False, default="",
                                     help_text=_("Default: the invoice currency."))
    exchange_rate = serializers.DecimalField(
        max_digits=12, decimal_places=6, required=False, allow_null=True,
        help_text=_("Optional; if given it must equal the Bank of Canada rate for the date of direct shipment."),
    )
    duty_rate = serializers.DecimalField(
        max_digits=9, decimal_places=6, required=False, allow_null=True,
        help_text=_("Optional, a fraction (0.065 for 6.5 %); if given it must equal the tariff rate."),
    )
    sima = serializers.DecimalField(required=False, allow_null=True, **_MONEY)
    excise_duty = serializers.DecimalField(required=False, allow_null=True, **_MONEY)
    excise_tax = serializers.DecimalField(required=False, allow_null=True, **_MONEY)
    gst_status = serializers.CharField(
        max_length=8, required=False, allow_blank=True, default="",
        help_text=_("GST status code (see gst-statuses/). Blank: the tariff item's (taxable unless exempt)."),
    )


class CadHeaderInputSerializer(serializers.Serializer):
    transaction_number = serializers.CharField(
        max_length=20, required=False, allow_blank=True,
        help_text=_("14 digits with a valid check digit. Omitted: the portal assigns one."),
    )
    cad_type = serializers.ChoiceField(choices=CAD.Type.choices, required=False)
    release_date = serializers.DateField(required=False, allow_null=True, validators=date_validators(future=True))
    direct_shipment_date = serializers.DateField(required=False, allow_null=True,
                                                 validators=date_validators(future=True))
    office_code = serializers.CharField(max_length=4, required=False, allow_blank=True)
    transport_mode = serializers.ChoiceField(choices=CAD.TransportMode.choices, required=False)
    cargo_control_number = serializers.CharField(max_length=25, required=False, allow_blank=True)
    vendor_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    vendor_country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    invoice_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    invoice_currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
    purchase_order = serializers.CharField(max_length=50, required=False, allow_blank=True)


class CadCreateInputSerializer(CadHeaderInputSerializer):
    program_account = serializers.PrimaryKeyRelatedField(
        queryset=ProgramAccount.objects.none(), help_text=_("Id of the importer RM account the CAD is filed under."),
    )
    lines = CadLineInputSerializer(many=True, max_length=999)

    def __init__(self, *args, program_accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if program_accounts is not None:
            self.fields["program_account"].queryset = program_accounts


class CadUpdateInputSerializer(CadHeaderInputSerializer):
    lines = CadLineInputSerializer(many=True, max_length=999, required=False,
                                   help_text=_("Given: replaces every line."))


class CadAmendInputSerializer(serializers.Serializer):
    lines = CadLineInputSerializer(many=True, max_length=999, help_text=_("The complete lines of the new version."))
    reason_codes = serializers.ListField(
        child=serializers.CharField(max_length=20), min_length=1, max_length=3,
        help_text=_("Importer reason codes of memo D17-2-1 App. A (see reason-codes/), in order: the code that "
                    "supports a refund, or an amount owing, first."),
    )
    legal_basis = serializers.ChoiceField(
        choices=[c for c in CADVersion.LegalBasis.choices if c[0]], required=False, allow_null=True,
        help_text=_("Omitted: s74 when the change lowers what is owed, s32_2 for a change of origin, "
                    "classification or value for duty, else other."),
    )
    reason_to_believe_date = serializers.DateField(required=False, allow_null=True,
                                                   validators=date_validators(future=True))
    remarks = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")


class CadWithdrawInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    reason_codes = serializers.ListField(child=serializers.CharField(max_length=20), required=False, default=list,
                                         max_length=3)


class CadImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("CSV, UTF-8, one row per CAD line (see the web page for the columns)."))
    program_account = serializers.PrimaryKeyRelatedField(
        queryset=ProgramAccount.objects.none(), required=False,
        help_text=_("Id of the RM account rows without a program_account column are filed under."),
    )

    def __init__(self, *args, program_accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if program_accounts is not None:
            self.fields["program_account"].queryset = program_accounts


def service_lines(lines: list[dict]) -> list[dict]:
    """Validated line data as the services take it (only the keys the client sent, plus defaults)."""
    return [dict(line) for line in lines]
