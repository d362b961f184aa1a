"""Forms of the broker command centre: bulk delegation requests."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.forms import DATE_WIDGET, SCOPE_CHOICES
from accounts.roles import DELEGATION_FLAGS
from carm_portal.exceptions import ApplicationError
from carm_portal.validators import date_validators

from . import bulk


class BulkRequestForm(forms.Form):
    """A CSV file or a pasted list of BN9s / RM numbers, and the terms every row asks for."""

    file = forms.FileField(
        label=_("CSV file"), required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    numbers = forms.CharField(
        label=_("Or paste BN9s or RM numbers"), required=False,
        widget=forms.Textarea(attrs={"rows": 5, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_("One per line, or separated by commas or spaces."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("What the broker may see and do"), choices=SCOPE_CHOICES, required=False,
        initial=list(DELEGATION_FLAGS), widget=forms.CheckboxSelectMultiple,
        help_text=_("For every row without its own scopes column."),
    )
    valid_from = forms.DateField(label=_("Valid from"), widget=DATE_WIDGET, initial=timezone.localdate,
                                 validators=date_validators(future=True))
    valid_to = forms.DateField(label=_("Valid to"), widget=DATE_WIDGET, required=False,
                               help_text=_("Leave empty: until revoked."), validators=date_validators(future=True))
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    rows: list[bulk.Row]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Formatted here, in the request's language (a lazy string formatted at import would not be).
        self.fields["file"].help_text = gettext(
            "One row per importer: its BN9 or an RM number (e.g. 123456782RM0001); optional "
            "columns: scopes, valid_to (YYYY-MM-DD). At most %(rows)d rows and %(kb)d kB."
        ) % {"rows": bulk.MAX_ROWS, "kb": bulk.MAX_BYTES // 1000}

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload.size > bulk.MAX_BYTES:
            raise forms.ValidationError(_("The list is too large: at most %(kb)d kB.") % {"kb": bulk.MAX_BYTES // 1000})
        return upload

    def clean(self):
        data = super().clean()
        upload, pasted = data.get("file"), (data.get("numbers") or "").strip()
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", _("The end date is before the start date."))
        if "file" in self.errors:
            return data
        if upload and pasted:
            self.add_error("numbers", _("Upload a file or paste a list, not both."))
            return data
        if not upload and not pasted:
            self.add_error("file", _("Upload a CSV file or paste a list of BN9s or RM numbers."))
            return data
        try:
            self.rows = bulk.parse_csv(upload.read(), field_name="file") if upload else bulk.parse_list(
                pasted, field_name="numbers")
        except ApplicationError as exc:
            for name, messages in exc.field_errors.items():
                for message in messages:
                    self.add_error(name, message)
        return data

    def terms(self) -> bulk.Terms:
        data = self.cleaned_data
        chosen = set(data.get("scopes") or [])
        return bulk.Terms(tuple(f for f in DELEGATION_FLAGS if f in chosen), data["valid_from"],
                          data.get("valid_to"), data.get("note") or "")
