"""Forms for the RPP pages. They parse input only; the rules live in billing.rpp.services."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ProgramAccount
from carm_portal.validators import date_validators

from .models import Bond

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _money(label, *, required=True, help_text="", min_value=Decimal("0.00")):
    return forms.DecimalField(
        label=label, required=required, help_text=help_text, max_digits=14, decimal_places=2, min_value=min_value,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


class EnrolForm(forms.Form):
    monthly_estimate = _money(
        _("Estimated monthly duties and taxes (CAD)"), required=False,
        help_text=_("New importers without billing history: your expected monthly duties, taxes and SIMA, GST included."),
    )


class EstimateForm(forms.Form):
    monthly_estimate = _money(
        _("Estimated monthly duties and taxes (CAD)"),
        help_text=_("Used while the RM account has no billing history in the last 12 periods."),
    )


class ReductionForm(forms.Form):
    requested_amount = _money(_("Bond amount you ask for (CAD)"))
    rationale = forms.CharField(
        label=_("Rationale"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Why a lower amount is enough (e.g. a one-off shipment inflated the highest month)."),
    )


class ReductionDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.RadioSelect
    )
    approved_amount = _money(_("Approved bond amount (CAD)"), required=False,
                             help_text=_("Empty: the amount requested."))
    note = forms.CharField(label=_("Note"), required=False, max_length=300)


class BondForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Bond.Kind.choices, initial=Bond.Kind.EWSA)
    surety_name = forms.CharField(label=_("Surety"), max_length=200)
    bond_number = forms.CharField(label=_("Bond number"), max_length=50)
    amount = _money(_("Bond amount (CAD)"), min_value=Decimal("0.01"))
    effective_date = forms.DateField(label=_("Effective date"), widget=DATE_WIDGET,
                                     validators=date_validators(future=True))
    expiry_date = forms.DateField(label=_("Expiry date"), widget=DATE_WIDGET, validators=date_validators(future=True))

    def __init__(self, *args, accounts: list[ProgramAccount], initial_account: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = accounts
        self.fields["effective_date"].initial = timezone.localdate()
        for pa in accounts:
            self.fields[f"alloc_{pa.pk}"] = _money(
                _("Amount covering %(rm)s") % {"rm": pa.number}, required=False,
                help_text=pa.name,
            )
        self.allocation_fields = [self[f"alloc_{pa.pk}"] for pa in accounts]
        self.detail_fields = [self[name] for name in
                              ("kind", "surety_name", "bond_number", "amount", "effective_date", "expiry_date")]

    def clean(self):
        data = super().clean()
        allocations = [(pa, data.get(f"alloc_{pa.pk}")) for pa in self.accounts]
        allocations = [(pa, a) for pa, a in allocations if a]
        if not allocations and not self.errors:
            raise forms.ValidationError(_("Say how much of the bond covers at least one RM account."))
        data["allocations"] = allocations
        return data


class DepositForm(forms.Form):
    program_account = forms.ModelChoiceField(label=_("RM account"), queryset=ProgramAccount.objects.none())
    amount = _money(_("Amount (CAD)"), min_value=Decimal("0.01"))
    received_date = forms.DateField(label=_("Received on"), widget=DATE_WIDGET, validators=date_validators(future=False))
    reference = forms.CharField(label=_("Reference"), max_length=40, required=False,
                                help_text=_("E.g. the bank transfer or receipt number."))

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program_account"].queryset = accounts
        self.fields["received_date"].initial = timezone.localdate()


class ForecastForm(forms.Form):
    """The what-if of the security forecast (read-only: a GET form). One field per review-window period."""

    method = forms.ChoiceField(
        label=_("Project the coming months from"), widget=forms.RadioSelect, initial="last_year",
        choices=[("last_year", _("the same months last year")), ("run_rate", _("a monthly run rate"))],
    )
    run_rate = _money(_("Monthly run rate (CAD)"), required=False,
                      help_text=_("Empty: the mean of the last three closed periods."))
    one_off_period = forms.TypedChoiceField(label=_("One-off shipment in the period ending"), required=False,
                                            coerce=lambda v: timezone.datetime.fromisoformat(v).date(),
                                            empty_value=None)
    one_off_amount = _money(_("Its duties and taxes (CAD)"), required=False)

    def __init__(self, *args, window=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.window = list(window)
        self.fields["one_off_period"].choices = [("", "—")] + [(p.isoformat(), p.isoformat()) for p in self.window]
        for period in self.window:
            self.fields[f"month_{period.isoformat()}"] = _money(period.isoformat(), required=False)

    def month_fields(self):
        return [self[f"month_{p.isoformat()}"] for p in self.window]

    def clean(self):
        data = super().clean()
        if data.get("one_off_amount") and not data.get("one_off_period"):
            self.add_error("one_off_period", _("Pick the period of the shipment."))
        return data

    def what_if(self) -> dict:
        """The keyword arguments of ``forecast.review_forecast`` from the cleaned data."""
        data = self.cleaned_data
        months = {p: data[f"month_{p.isoformat()}"] for p in self.window
                  if data.get(f"month_{p.isoformat()}") is not None}
        one_offs = [(data["one_off_period"], data["one_off_amount"])] if data.get("one_off_amount") else []
        return {"method": data.get("method") or "last_year", "run_rate": data.get("run_rate"), "months": months,
                "one_offs": one_offs}
