"""Forms of the billing pages. Account choices always come from the access gate."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ProgramAccount
from billing.ledger.models import LedgerEntry
from carm_portal.conf import carm
from carm_portal.validators import date_validators

from .models import Payment


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ProgramAccount) -> str:
        return f"{obj.number} · {obj.name}" if obj.name else obj.number


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class TransactionFilterForm(forms.Form):
    """Filters of the transaction history; ``accounts`` is the gated queryset (never all accounts)."""

    account = AccountChoiceField(queryset=ProgramAccount.objects.none(), required=False,
                                 empty_label=_("All RM accounts"), label=_("RM account"))
    kind = forms.ChoiceField(choices=[("", _("All kinds")), *LedgerEntry.Kind.choices], required=False,
                             label=_("Kind"))
    date_from = forms.DateField(required=False, label=_("From"), widget=DateInput())
    date_to = forms.DateField(required=False, label=_("To"), widget=DateInput())

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> dict:
        """Keyword arguments for ``selectors.ledger_entries_for`` (empty when the form is invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {"program_account": data.get("account"), "kind": data.get("kind") or None,
                "date_from": data.get("date_from"), "date_to": data.get("date_to")}


class StatementFilterForm(forms.Form):
    account = AccountChoiceField(queryset=ProgramAccount.objects.none(), required=False,
                                 empty_label=_("All RM accounts"), label=_("RM account"))

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts


class PaymentForm(forms.Form):
    """Record a payment; the service checks the rules (duplicate reference, credit-card cap)."""

    program_account = AccountChoiceField(queryset=ProgramAccount.objects.none(), label=_("RM account"),
                                         empty_label=None)
    method = forms.ChoiceField(choices=Payment.Method.choices, label=_("Method"))
    reference = forms.CharField(max_length=40, label=_("Reference"),
                                help_text=_("The bank, card or cheque reference. Each reference is used once."))
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"), label=_("Amount (CAD)"))
    received_on = forms.DateField(label=_("Received on"), widget=DateInput(), validators=date_validators(future=False))
    # carm_portal.idempotency.form_post: a double click or a resent form records one payment.
    idempotency_key = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    # The service's field names, when they differ from the form's.
    service_field_map = {"account": "program_account", "program_account_id": "program_account"}

    def __init__(self, *args, accounts, **kwargs):
        from carm_portal.idempotency import new_form_key

        kwargs.setdefault("initial", {}).setdefault("received_on", timezone.localdate())
        kwargs["initial"].setdefault("idempotency_key", new_form_key())
        super().__init__(*args, **kwargs)
        self.fields["program_account"].queryset = accounts
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "step": "0.01"})


class ReconcileForm(forms.Form):
    """The statement reconciler's input: a CSV list (with an optional column mapping) or the firm's CADs."""

    source = forms.ChoiceField(label=_("Compare with"), required=False, initial="file", widget=forms.RadioSelect)
    file = forms.FileField(label=_("Your list (CSV or XLSX: transaction number, amount)"), required=False)
    number_column = forms.CharField(label=_("Column with the transaction number"), required=False, max_length=100)
    amount_column = forms.CharField(label=_("Column with the amount"), required=False, max_length=100)

    def __init__(self, *args, is_broker: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("file", _("My list (upload)"))]
        if is_broker:
            choices.append(("firm", _("My firm's CADs for this RM and period")))
        self.fields["source"].choices = choices

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if data.get("source") != "firm" and not upload and "file" not in self.errors:
            self.add_error("file", _("Choose a CSV or XLSX file."))
        if upload is not None and upload.size > carm("UPLOAD_MAX_BYTES"):
            self.add_error("file", _("The file is larger than %(n)d bytes.") % {"n": carm("UPLOAD_MAX_BYTES")})
        return data
