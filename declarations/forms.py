"""Forms for the CAD pages. They parse input only; the rules live in ``declarations.services``.

A service's ``ApplicationError`` carries field errors keyed like ``release_date`` or
``lines.2.classification``; ``apply_service_errors`` puts each one on the header form or on
the right line of the formset, so the user sees every message where it belongs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from carm_portal.exceptions import ApplicationError

from .models import CAD, CADVersion, GstStatus, ReasonCode, TariffTreatment

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
HUNDRED = Decimal(100)

# Service field names (validation.LINE_FIELDS) that the line form names differently.
LINE_FIELD_TO_FORM = {"duty_rate": "duty_rate_percent"}
# Other service field names shown on a differently named form field.
FIELD_TO_FORM = {"reason_codes": "reason_code_1"}


# --- The CAD list's filters -------------------------------------------------------------------

LATE_CHOICES = [("", _("Any")), ("1", _("Late only")), ("0", _("Not late"))]


class CadFilterForm(forms.Form):
    q = forms.CharField(label=_("Transaction number"), required=False, max_length=20,
                        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
                        help_text=_("All 14 digits, or the first ones."))
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any")), *CAD.Status.choices])
    cad_type = forms.ChoiceField(label=_("Type"), required=False, choices=[("", _("Any")), *CAD.Type.choices])
    released_from = forms.DateField(label=_("Released from"), required=False, widget=DATE_WIDGET)
    released_to = forms.DateField(label=_("Released to"), required=False, widget=DATE_WIDGET)
    office = forms.RegexField(label=_("CBSA office"), regex=r"^\d{4}$", required=False, max_length=4,
                              error_messages={"invalid": _("A CBSA office code has 4 digits.")})
    late = forms.ChoiceField(label=_("Late"), required=False, choices=LATE_CHOICES)
    account = forms.TypedChoiceField(label=_("RM account"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = {pa.pk: pa for pa in accounts}
        self.fields["account"].choices = [("", _("All")), *((pa.pk, pa.number) for pa in accounts)]

    def selector_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``selectors.cads_for`` (valid fields only)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {
            k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors
        }
        late = data.get("late")
        return {
            "search": data.get("q") or None,
            "status": data.get("status") or None,
            "cad_type": data.get("cad_type") or None,
            "released_from": data.get("released_from"),
            "released_to": data.get("released_to"),
            "office": data.get("office") or None,
            "late": True if late == "1" else False if late == "0" else None,
            "program_account": self.accounts.get(data.get("account")) if data.get("account") else None,
        }


# --- Header and lines ---------------------------------------------------------------------------

class CadHeaderForm(forms.Form):
    program_account = forms.ModelChoiceField(label=_("Importer RM account"), queryset=None, empty_label=None)
    transaction_number = forms.CharField(
        label=_("Transaction number"), required=False, max_length=20,
        help_text=_("14 digits. Leave blank and the portal assigns one under your account-security number."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    cad_type = forms.ChoiceField(label=_("Type"), choices=CAD.Type.choices, initial=CAD.Type.REGULAR)
    release_date = forms.DateField(label=_("Release date"), required=False, widget=DATE_WIDGET)
    direct_shipment_date = forms.DateField(
        label=_("Date of direct shipment"), required=False, widget=DATE_WIDGET,
        help_text=_("The exchange rate of this day converts foreign values."),
    )
    office_code = forms.CharField(label=_("CBSA office"), required=False, max_length=4,
                                  widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    transport_mode = forms.ChoiceField(label=_("Mode of transport"), choices=CAD.TransportMode.choices,
                                       initial=CAD.TransportMode.HIGHWAY)
    cargo_control_number = forms.CharField(label=_("Cargo control number"), required=False, max_length=25)
    vendor_name = forms.CharField(label=_("Vendor"), required=False, max_length=200)
    vendor_country = forms.CharField(label=_("Vendor country"), required=False, max_length=2,
                                     help_text=_("2 letters, e.g. US."))
    invoice_number = forms.CharField(label=_("Invoice number"), required=False, max_length=50)
    invoice_currency = forms.CharField(label=_("Invoice currency"), required=False, max_length=3, initial="CAD",
                                       help_text=_("3 letters, e.g. USD."))
    purchase_order = forms.CharField(label=_("Purchase order"), required=False, max_length=50)
    idempotency_key = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, accounts, with_number: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program_account"].queryset = accounts
        if not with_number:
            del self.fields["transaction_number"]
            del self.fields["program_account"]

    def header(self) -> dict[str, Any]:
        """The header as ``services.cad_create_draft`` takes it (no account, no key)."""
        data = self.cleaned_data
        out = {k: v for k, v in data.items() if k not in ("program_account", "idempotency_key")}
        if "transaction_number" in out and not out["transaction_number"]:
            del out["transaction_number"]  # generated on create; never blanked on edit
        return out


class CadLineForm(forms.Form):
    description = forms.CharField(label=_("Description"), required=False, max_length=300)
    classification = forms.CharField(
        label=_("Classification"), required=False, max_length=13,
        help_text=_("10 digits, e.g. 6109.10.00.11"), widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    treatment = forms.ChoiceField(label=_("Tariff treatment"), required=False)
    origin_country = forms.CharField(label=_("Origin"), required=False, max_length=2)
    proof_of_origin = forms.BooleanField(
        label=_("Proof of origin on file"), required=False,
        help_text=_("Required to claim a preferential treatment (any but MFN)."),
    )
    quantity = forms.DecimalField(label=_("Quantity"), required=False, max_digits=14, decimal_places=3)
    unit = forms.CharField(label=_("Unit"), required=False, max_length=3)
    value_foreign = forms.DecimalField(label=_("Value"), required=False, max_digits=14, decimal_places=2)
    currency = forms.CharField(label=_("Currency"), required=False, max_length=3,
                               help_text=_("Blank: the invoice currency."))
    exchange_rate = forms.DecimalField(label=_("Exchange rate"), required=False, max_digits=12, decimal_places=6,
                                       help_text=_("Blank: the Bank of Canada rate."))
    duty_rate_percent = forms.DecimalField(label=_("Duty rate %"), required=False, max_digits=9, decimal_places=4,
                                           help_text=_("Blank: the tariff's rate."))
    sima = forms.DecimalField(label=_("SIMA"), required=False, max_digits=14, decimal_places=2)
    excise_duty = forms.DecimalField(label=_("Excise duty"), required=False, max_digits=14, decimal_places=2)
    excise_tax = forms.DecimalField(label=_("Excise tax"), required=False, max_digits=14, decimal_places=2)
    gst_status = forms.ChoiceField(label=_("GST status"), required=False,
                                   help_text=_("Blank: the tariff item's (taxable unless the goods are exempt)."))

    def __init__(self, *args, treatment_choices=None, gst_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["treatment"].choices = treatment_choices if treatment_choices is not None else treatment_options()
        self.fields["gst_status"].choices = gst_choices if gst_choices is not None else gst_status_options()

    def service_line(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("DELETE", None)
        percent = data.pop("duty_rate_percent", None)
        data["duty_rate"] = percent / HUNDRED if percent is not None else None
        return {k: ("" if v is None and k in ("description", "classification", "treatment") else v)
                for k, v in data.items()}


def treatment_options() -> list[tuple[str, str]]:
    """The treatment choices, loaded once per page (pass them to every line form)."""
    return [("", "—"), *((t.code, t.code) for t in TariffTreatment.objects.all())]


def gst_status_options() -> list[tuple[str, str]]:
    """The GST status choices, with their meaning (loaded once per page)."""
    return [("", _("As the tariff item")), *((g.code, f"{g.code} – {g.name()}") for g in GstStatus.objects.all())]


def reason_code_options() -> list[tuple[str, str]]:
    """The importer reason codes (memo D17-2-1 App. A) with their meaning; CBSA's are not offered."""
    return [("", "—"), *(
        (r.code, f"{r.code} – {r.description()}")
        for r in ReasonCode.objects.filter(party=ReasonCode.Party.IMPORTER, is_active=True)
    )]


def line_formset(data=None, *, initial=None) -> _LineFormSet:
    return CadLineFormSet(data, initial=initial, prefix="lines",
                          form_kwargs={"treatment_choices": treatment_options(),
                                       "gst_choices": gst_status_options()})


class _LineFormSet(forms.BaseFormSet):

    @property
    def kept_forms(self) -> list[CadLineForm]:
        """The line forms in order, without the removed ones and the untouched blank ones."""
        out = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            out.append(form)
        return out

    def service_lines(self) -> list[dict[str, Any]]:
        return [form.service_line() for form in self.kept_forms]


CadLineFormSet = formset_factory(CadLineForm, formset=_LineFormSet, extra=0, min_num=1, validate_min=True,
                                 can_delete=True, max_num=999, validate_max=True)


def line_initial(raw: dict[str, Any]) -> dict[str, Any]:
    """A stored line (``services.raw_line``) as the line form's initial data."""
    out = {k: v for k, v in raw.items() if k in CadLineForm.base_fields}
    rate = raw.get("duty_rate")
    out["duty_rate_percent"] = _plain(rate * HUNDRED) if rate is not None else None
    for key in ("sima", "excise_duty", "excise_tax"):
        if out.get(key) == 0:
            out[key] = None
    for key in ("quantity", "exchange_rate"):
        if isinstance(out.get(key), Decimal):
            out[key] = _plain(out[key])
    return out


def _plain(number: Decimal) -> str:
    """1.500000 → "1.5", 500.000 → "500" (never "5E+2")."""
    return f"{number.normalize():f}"


class AmendForm(forms.Form):
    # Up to 3 codes, in order: the order matters to CBSA (CARM bulletin 5417).
    reason_code_1 = forms.ChoiceField(
        label=_("Reason code"),
        help_text=_("Memo D17-2-1 Appendix A. A refund: the code supporting the refund first; an amount owing: "
                    "the code supporting it first."),
    )
    reason_code_2 = forms.ChoiceField(label=_("Second reason code"), required=False)
    reason_code_3 = forms.ChoiceField(label=_("Third reason code"), required=False)
    legal_basis = forms.ChoiceField(
        label=_("Legal basis"), required=False,
        choices=[("", _("Let the portal decide")), *[c for c in CADVersion.LegalBasis.choices if c[0]]],
        help_text=_("A change that lowers what is owed is a s. 74 refund; a change of origin, classification or "
                    "value for duty that raises it is a s. 32.2 correction."),
    )
    reason_to_believe_date = forms.DateField(
        label=_("Reason to believe since"), required=False, widget=DATE_WIDGET,
        help_text=_("Under s. 32.2 the change must be filed within 90 days of this date."),
    )
    remarks = forms.CharField(label=_("Remarks"), required=False, max_length=1000,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = reason_code_options()
        for name in ("reason_code_1", "reason_code_2", "reason_code_3"):
            self.fields[name].choices = choices

    def codes(self) -> list[str]:
        return [self.cleaned_data[name] for name in ("reason_code_1", "reason_code_2", "reason_code_3")
                if self.cleaned_data.get(name)]


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class CsvUploadForm(forms.Form):
    program_account = forms.ModelChoiceField(
        label=_("Importer RM account"), queryset=None, empty_label=None,
        help_text=_("Rows without a program_account column are filed under this account."),
    )
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8, a header row, one row per CAD line."))

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program_account"].queryset = accounts


# --- Service errors onto the forms ----------------------------------------------------------------

def apply_service_errors(exc: ApplicationError, header_form: forms.Form | None, formset: _LineFormSet | None,
                         extra_form: forms.Form | None = None) -> None:
    """Place each of the service's field errors on the field it is about; the rest on top."""
    top = header_form if header_form is not None else extra_form
    kept = formset.kept_forms if formset is not None else []
    if top is not None:
        top.add_error(None, exc.message)
    for key, messages in exc.field_errors.items():
        if isinstance(messages, str):
            messages = [messages]
        target_form, field = top, FIELD_TO_FORM.get(key, key)
        if key.startswith("lines.") and key.count(".") == 2:
            _lines, index, name = key.split(".")
            name = LINE_FIELD_TO_FORM.get(name, name)
            if index.isdigit() and int(index) < len(kept):
                target_form, field = kept[int(index)], name
        for form in (target_form, extra_form):
            if form is not None and field in form.fields:
                target_form = form
                break
        else:
            field = None
        if target_form is None:
            continue
        for message in messages:
            if field is None and target_form is top and message == exc.message:
                continue
            target_form.add_error(field, message)
