"""Billing API serializers (read models and the payment input)."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.ledger.models import LedgerEntry
from carm_portal.validators import MAX_ID, date_validators

from .models import BillingRun, DailyNotice, Payment, Statement


def _choice_field(choices, **kwargs) -> serializers.ChoiceField:
    """A choice field documented as a string listing its values (no enum component, so no
    naming collision with other apps' "kind"/"method"/"status" enums)."""
    values = [value for value, _label in choices]
    schema = {"type": "string", "description": "One of: " + ", ".join(values)}
    field_class = extend_schema_field(schema)(type("InlineChoiceField", (serializers.ChoiceField,), {}))
    return field_class(choices=choices, **kwargs)


class LedgerEntrySerializer(serializers.ModelSerializer):
    kind = _choice_field(LedgerEntry.Kind.choices, read_only=True)
    program_account_number = serializers.CharField(source="program_account.number", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = [
            "id", "program_account", "program_account_number", "kind", "amount", "duty", "sima", "excise_duty",
            "excise_tax", "gst", "other", "effective_date", "billing_period", "reference", "description",
            "created_at",
        ]
        read_only_fields = fields


class StatementLineSerializer(serializers.ModelSerializer):
    kind = _choice_field(LedgerEntry.Kind.choices, read_only=True)
    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "effective_date", "reference", "description"]
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
