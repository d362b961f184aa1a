"""Billing API serializers (read models and the payment input)."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.ledger.models import LedgerEntry
from carm_portal.validators import MAX_ID, date_validators

from .entry_text import entry_description
from .models import BillingRun, DailyNotice, Payment, Statement


def _choice_field(choices, **kwargs) -> serializers.ChoiceField:
    """A choice field documented as a string listing its values (no enum component, so no
    naming collision with other apps' "kind"/"method"/"status" enums)."""
    values = [value for value, _label in choices]
    schema = {"type": "string", "description": "One of: " + ", ".join(values)}
    field_class = extend_schema_field(schema)(type("InlineChoiceField", (serializers.ChoiceField,), {}))
    return field_class(choices=choices, **kwargs)


class _DescribedEntry(serializers.ModelSerializer):
    """A ledger line's description three ways: ``description`` as stored (English), the catalogue
    ``description_code`` and its ``description_params`` (stable, for systems), and ``description_text``
    in the request's language (Accept-Language), as the pages show it."""

    description_text = serializers.SerializerMethodField(
        help_text=_("The description in the request's language (Accept-Language: en or fr)."))

    def get_description_text(self, entry) -> str:
        return entry_description(entry)


class LedgerEntrySerializer(_DescribedEntry):
    kind = _choice_field(LedgerEntry.Kind.choices, read_only=True)
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = [
            "id", "program_account", "program_account_number", "kind", "amount", "duty", "sima", "excise_duty",
            "excise_tax", "gst", "other", "effective_date", "billing_period", "reference", "description",
            "description_code", "description_params", "description_text", "created_at",
        ]
        read_only_fields = fields


class StatementLineSerializer(_DescribedEntry):
    kind = _choice_field(LedgerEntry.Kind.choices, read_only=True)
    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "effective_date", "reference", "description", "description_code",
                  "description_params", "description_text"]
        read_only_fields = fields


class StatementSerializer(serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = Statement
        fields = [
            "id", "program_account", "program_account_number", "period_start", "period_end", "issued_on",
            "due_date", "opening_balance", "charges", "credits", "payments", "interest", "penalties",
            "closing_balance", "duties_and_taxes", "lines_count", "content_hash", "created_at",
        ]
        read_only_fields = fields


class StatementDetailSerializer(StatementSerializer):
    """A statement with where to read its lines: ``lines_url`` pages through them (a statement can
    have tens of thousands, too many for one response)."""

    lines_url = serializers.SerializerMethodField(help_text=_("Its lines, paginated: GET this URL."))

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "lines_url"]
        read_only_fields = fields

    def get_lines_url(self, obj: Statement) -> str:
        from django.urls import reverse

        return reverse("api-statement-lines", args=[obj.pk])


class DailyNoticeSerializer(serializers.ModelSerializer):
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = DailyNotice
        fields = ["id", "program_account", "program_account_number", "day", "entries_count", "total", "created_at"]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    method = _choice_field(Payment.Method.choices, read_only=True)
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id", "program_account", "program_account_number", "method", "reference", "amount", "received_on",
            "billing_period", "ledger_entry", "created_at",
        ]
        read_only_fields = fields


class PaymentInputSerializer(serializers.Serializer):
    program_account = serializers.IntegerField(help_text=_("The RM account (program account id)."),
                                               min_value=1, max_value=MAX_ID)
    method = _choice_field(Payment.Method.choices)
    reference = serializers.CharField(max_length=40)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    received_on = serializers.DateField(validators=date_validators(future=False))


class BillingRunSerializer(serializers.ModelSerializer):
    status = _choice_field(BillingRun.Status.choices, read_only=True)
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = BillingRun
        fields = [
            "id", "period_end", "run_number", "status", "total", "done", "failed", "chunks_total", "chunks_done",
            "progress_percent", "failures", "started_at", "finished_at", "started_by", "created_at",
        ]
        read_only_fields = fields


class BillingRunStartSerializer(serializers.Serializer):
    period_end = serializers.DateField(help_text=_("The period's last day (a 17th)."),
                                       validators=date_validators(future=True))
    force = serializers.BooleanField(default=False, help_text=_("Close before the statement day (testing)."))


# --- Money summary ---------------------------------------------------------------------------------

_MONEY = {"max_digits": 14, "decimal_places": 2, "read_only": True}


class AgeingSerializer(serializers.Serializer):
    current = serializers.DecimalField(help_text=_("Not yet due."), **_MONEY)
    days_1_30 = serializers.DecimalField(source="1-30", help_text=_("1 to 30 days past due."), **_MONEY)
    days_31_60 = serializers.DecimalField(source="31-60", help_text=_("31 to 60 days past due."), **_MONEY)
    days_61_90 = serializers.DecimalField(source="61-90", help_text=_("61 to 90 days past due."), **_MONEY)
    days_over_90 = serializers.DecimalField(source="90+", help_text=_("More than 90 days past due."), **_MONEY)


class _MoneyFigures(serializers.Serializer):
    balance = serializers.DecimalField(help_text=_("Everything owed; negative: a credit."), **_MONEY)
    amount_due = serializers.DecimalField(
        help_text=_("Billed on statements and not yet paid: pay this by due_date (overdue: now)."), **_MONEY)
    due_date = serializers.DateField(read_only=True, allow_null=True,
                                     help_text=_("When the part not yet overdue must be paid."))
    overdue = serializers.DecimalField(help_text=_("Part of amount_due past its due date."), **_MONEY)
    overdue_since = serializers.DateField(read_only=True, allow_null=True)
    unapplied_credit = serializers.DecimalField(
        help_text=_("Payments and credits beyond what is billed, carried to the next statement."), **_MONEY)
    not_yet_billed = serializers.DecimalField(help_text=_("Charges that will be on the next statement."),
                                              **_MONEY)
    ageing = AgeingSerializer(read_only=True)


class AccountMoneySerializer(_MoneyFigures):
    program_account = serializers.IntegerField(source="program_account_id", read_only=True)


class MoneySummaryQuerySerializer(serializers.Serializer):
    account = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class MoneySummarySerializer(_MoneyFigures):
    today = serializers.DateField(read_only=True)
    next_statement_on = serializers.DateField(read_only=True)
    next_statement_due = serializers.DateField(read_only=True)
    accounts = AccountMoneySerializer(many=True, read_only=True)


# --- Statement reconciler (billing/reconcile.py) ----------------------------------------------------------

class ReconcileInputSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=[("file", _("An uploaded CSV list")), ("firm", _("My firm's CADs (brokers)"))], default="file",
        help_text=_("\"firm\": the CADs your broker firm filed for the statement's RM and period."))
    file = serializers.FileField(required=False, help_text=_(
        "CSV UTF-8 or XLSX (first sheet) with a header row: a transaction number column and an amount column."))
    number_column = serializers.CharField(required=False, max_length=100, allow_blank=True,
                                          help_text=_("The header of the transaction number column, if not obvious."))
    amount_column = serializers.CharField(required=False, max_length=100, allow_blank=True,
                                          help_text=_("The header of the amount column, if not obvious."))
    save = serializers.BooleanField(default=False, help_text=_(
        "Save this reconciliation; the answer's changes compare it with your last saved one."))


class ReconcileVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    dt_total = serializers.DecimalField(help_text=_("The version's duties and taxes."), **_MONEY)
    posted = serializers.DecimalField(allow_null=True, help_text=_("The difference it posted to the ledger."),
                                      **_MONEY)
    billing_period = serializers.DateField(allow_null=True, help_text=_("The statement period it was billed on."))


class ReconcileRowSerializer(serializers.Serializer):
    transaction_number = serializers.CharField()
    listed = serializers.DecimalField(allow_null=True, help_text=_("The amount on your list."), **_MONEY)
    billed = serializers.DecimalField(allow_null=True, help_text=_("The amount on this statement."), **_MONEY)
    difference = serializers.DecimalField(allow_null=True, help_text=_("Statement less list."), **_MONEY)
    filer = serializers.CharField(help_text=_("this_broker, other_broker, importer or cbsa (statement side)."))
    filer_name = serializers.CharField()
    reason = serializers.CharField(help_text=_(
        "other_period, other_rm, not_accepted, withdrawn or not_found (list side)."))
    reason_detail = serializers.CharField()
    other_statement_id = serializers.IntegerField(allow_null=True)
    cad_id = serializers.IntegerField(allow_null=True)
    versions = ReconcileVersionSerializer(many=True)
    explanation = serializers.CharField()


class ReconcileDebtPaidSerializer(serializers.Serializer):
    debt_id = serializers.IntegerField(allow_null=True, help_text=_(
        "The debt's ledger entry; null for a debt on an RM account you may not see."))
    reference = serializers.CharField(help_text=_("The debt's CAD transaction number (or other reference)."))
    description = serializers.CharField()
    kind = serializers.CharField()
    amount = serializers.DecimalField(help_text=_("How much of the debt this credit paid."), **_MONEY)
    applied_on = serializers.DateField(help_text=_("The day the credit cleared it."))


class ReconcileLineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    amount = serializers.DecimalField(**_MONEY)
    effective_date = serializers.DateField()
    reference = serializers.CharField()
    description = serializers.CharField()
    detail = serializers.CharField()
    paid = ReconcileDebtPaidSerializer(many=True, help_text=_(
        "Credits and payments: the debts this line paid, oldest first (empty for other lines)."))


class ReconcileInterestSerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    days = serializers.IntegerField()
    balance = serializers.DecimalField(help_text=_("Overdue on each of these days."), **_MONEY)
    rate = serializers.DecimalField(max_digits=9, decimal_places=6, read_only=True, help_text=_("Annual rate."))


class ReconcileOpeningSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**_MONEY)
    statement_id = serializers.IntegerField(allow_null=True)
    period_end = serializers.DateField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    days_past_due = serializers.IntegerField()


class ReconcileCountsSerializer(serializers.Serializer):
    matched = serializers.IntegerField()
    unlisted = serializers.IntegerField()
    not_on_statement = serializers.IntegerField()
    differ = serializers.IntegerField()


class ReconcileChangeSerializer(serializers.Serializer):
    transaction_number = serializers.CharField(help_text=_("Empty for the amount due."))
    before_group = serializers.CharField(allow_null=True)
    now_group = serializers.CharField(allow_null=True)
    before_billed = serializers.CharField(allow_null=True)
    now_billed = serializers.CharField(allow_null=True)
    before_listed = serializers.CharField(allow_null=True)
    now_listed = serializers.CharField(allow_null=True)


class ReconciliationSerializer(serializers.Serializer):
    statement = serializers.IntegerField(source="statement.pk")
    counts = ReconcileCountsSerializer(source="counts_dict")
    matched = ReconcileRowSerializer(many=True)
    unlisted = ReconcileRowSerializer(many=True, help_text=_("On the statement, not on your list."))
    not_on_statement = ReconcileRowSerializer(many=True, help_text=_("On your list, not on this statement."))
    differ = ReconcileRowSerializer(many=True, help_text=_("On both, amounts differ."))
    opening = ReconcileOpeningSerializer()
    credits = ReconcileLineSerializer(many=True)
    interest = ReconcileLineSerializer(many=True)
    interest_pieces = ReconcileInterestSerializer(many=True)
    penalties = ReconcileLineSerializer(many=True)
    payment_lines = ReconcileLineSerializer(many=True)
    other_charges = ReconcileLineSerializer(many=True)
    listed_total = serializers.DecimalField(**_MONEY)
    cad_total = serializers.DecimalField(**_MONEY)
    explained_total = serializers.DecimalField(**_MONEY)
    reconciles = serializers.BooleanField()
    amount_due = serializers.DecimalField(help_text=_("billing/summary.py's amount due: pay it in full."), **_MONEY)
    due_date = serializers.DateField(allow_null=True)
    short_pay_warning = serializers.CharField()
    changes = ReconcileChangeSerializer(many=True, help_text=_(
        "With save: what moved since your last saved reconciliation of this statement."))


class ReconcileMappingSerializer(serializers.Serializer):
    needs_mapping = serializers.BooleanField()
    headers = serializers.ListField(child=serializers.CharField())
