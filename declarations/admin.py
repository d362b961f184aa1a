"""Admin for CBSA-side work: review CADs and adjustments; edit the tariff and exchange-rate tables.

CADs, lines and versions are read-only here: every change goes through ``declarations.services``
(the review actions call them), so the ledger and the audit trail stay right.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from carm_portal.admin import BigTableAdmin
from carm_portal.exceptions import ApplicationError

from . import services
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


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CADLineInline(ReadOnlyInline):
    model = CADLine
    fields = ["line_no", "description", "classification", "treatment", "origin_country", "proof_of_origin",
              "quantity", "unit", "value_foreign", "currency", "exchange_rate", "vfd", "duty_rate", "duty", "sima",
              "excise_duty", "excise_tax", "gst_status", "gst"]
    readonly_fields = fields


class CADVersionInline(ReadOnlyInline):
    model = CADVersion
    fields = ["number", "kind", "status", "legal_basis", "reason_codes", "filed_by", "filed_at", "dt_total",
              "ledger_entry", "review_reason"]
    readonly_fields = fields


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), required=True)


def _run(modeladmin, request, objects, call, done_message) -> None:
    """Call a service per object; report successes and each failure."""
    done = 0
    for obj in objects:
        try:
            call(obj)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, done_message(done), messages.SUCCESS)


def _with_reason(modeladmin, request, queryset, *, title, action, call, done_message):
    """Ask for a reason on an intermediate page, then call the service for each selected object."""
    if "apply" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            _run(modeladmin, request, queryset, lambda obj: call(obj, reason), done_message)
            return None
    else:
        form = ReasonForm()
    return TemplateResponse(request, "admin/declarations/reason_form.html", {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "objects": queryset,
        "action": action,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    })


@admin.register(CAD)
class CADAdmin(BigTableAdmin):
    """National volume (carm_portal.admin.BigTableAdmin): newest first by id, no date hierarchy,
    exact search on the transaction number or the RM account number (both indexed)."""

    list_display = ["transaction_number", "program_account", "status", "cad_type", "release_date", "due_date",
                    "submitted_late", "payment_timing", "current_version", "dt_total"]
    list_filter = ["status", "cad_type", "payment_timing", "transport_mode", "submitted_late", "release_date"]
    exact_search_fields = ("transaction_number", "program_account__number")
    search_help_text = _("An exact transaction number (14 digits) or RM account number.")
    ordering = ["-id"]
    list_select_related = ["program_account"]
    raw_id_fields = ["program_account", "filed_by", "broker"]
    inlines = [CADLineInline, CADVersionInline]
    actions = ["accept_selected", "reject_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: changes go through the services (the actions below)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Accept selected submitted CADs (posts the charge)"))
    def accept_selected(self, request, queryset):
        _run(self, request, queryset.filter(status=CAD.Status.SUBMITTED),
             lambda cad: services.cad_accept(actor=request.user, cad=cad),
             lambda n: ngettext("%(n)d CAD accepted.", "%(n)d CADs accepted.", n) % {"n": n})

    @admin.action(description=_("Reject selected submitted CADs"))
    def reject_selected(self, request, queryset):
        return _with_reason(
            self, request, queryset.filter(status=CAD.Status.SUBMITTED), title=_("Reject CADs"),
            action="reject_selected",
            call=lambda cad, reason: services.cad_reject(actor=request.user, cad=cad, reason=reason),
            done_message=lambda n: ngettext("%(n)d CAD rejected.", "%(n)d CADs rejected.", n) % {"n": n},
        )


@admin.register(CADVersion)
class CADVersionAdmin(BigTableAdmin):
    list_display = ["cad", "number", "kind", "status", "legal_basis", "filed_by", "filed_at", "dt_total"]
    list_filter = ["status", "kind", "legal_basis"]
    exact_search_fields = ("cad__transaction_number",)
    search_help_text = _("An exact transaction number (14 digits).")
    ordering = ["-id"]
    list_select_related = ["cad", "filed_by"]
    raw_id_fields = ["cad", "filed_by", "reviewed_by", "ledger_entry"]
    actions = ["approve_selected", "reject_selected"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: changes go through the services (the actions below)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Approve selected pending adjustments (posts the difference)"))
    def approve_selected(self, request, queryset):
        _run(self, request, queryset.filter(status=CADVersion.Status.PENDING_REVIEW),
             lambda v: services.cad_adjustment_review(actor=request.user, version=v, approve=True),
             lambda n: ngettext("%(n)d adjustment approved.", "%(n)d adjustments approved.", n) % {"n": n})

    @admin.action(description=_("Reject selected pending adjustments"))
    def reject_selected(self, request, queryset):
        return _with_reason(
            self, request, queryset.filter(status=CADVersion.Status.PENDING_REVIEW), title=_("Reject adjustments"),
            action="reject_selected",
            call=lambda v, reason: services.cad_adjustment_review(actor=request.user, version=v, approve=False,
                                                                  reason=reason),
            done_message=lambda n: ngettext("%(n)d adjustment rejected.", "%(n)d adjustments rejected.", n)
            % {"n": n},
        )


class TariffRateInline(admin.TabularInline):
    model = TariffRate
    extra = 1
    fields = ["treatment", "rate"]


@admin.register(TariffItem)
class TariffItemAdmin(admin.ModelAdmin):
    list_display = ["classification", "description_en", "unit_of_measure", "excise_duty_per_unit",
                    "excise_tax_per_unit", "gst_status", "is_active"]
    list_filter = ["is_active", "gst_status", "unit_of_measure"]
    search_fields = ["^classification", "description_en", "description_fr"]
    inlines = [TariffRateInline]


class TariffTreatmentForm(forms.ModelForm):
    class Meta:
        model = TariffTreatment
        fields = ["code", "name_en", "name_fr", "sort_order", "origin_rule", "origin_countries",
                  "proof_of_origin_required", "source"]

    def clean_origin_countries(self) -> str:
        codes = self.cleaned_data["origin_countries"].upper().replace(",", " ").split()
        bad = [c for c in codes if len(c) != 2 or not c.isalpha()]
        if bad:
            raise forms.ValidationError(_("Not 2-letter country codes: %(codes)s") % {"codes": ", ".join(bad)})
        return " ".join(sorted(set(codes)))


@admin.register(TariffTreatment)
class TariffTreatmentAdmin(admin.ModelAdmin):
    """Which countries of origin each treatment allows (sources in declarations/reference_tables.py)."""

    form = TariffTreatmentForm
    list_display = ["code", "name_en", "origin_rule", "origin_countries", "proof_of_origin_required", "sort_order"]
    list_filter = ["origin_rule", "proof_of_origin_required"]
    search_fields = ["code", "name_en", "name_fr", "origin_countries"]


@admin.register(GstStatus)
class GstStatusAdmin(admin.ModelAdmin):
    list_display = ["code", "taxable", "name_en", "legal_basis", "sort_order"]
    list_filter = ["taxable"]
    search_fields = ["code", "name_en", "name_fr"]


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "party", "description_en", "source", "is_active", "sort_order"]
    list_filter = ["party", "is_active"]
    search_fields = ["code", "description_en", "description_fr"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "date", "rate"]
    list_filter = ["currency"]
    date_hierarchy = "date"
    search_fields = ["=currency"]
