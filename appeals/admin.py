"""Admin for compliance actions and appeals. New penalties and statements go through the
services (so the ledger entry is posted with them); posted money fields are read-only after."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from carm_portal.exceptions import ApplicationError

from . import services
from .models import (
    Appeal,
    AppealDocument,
    AppealNotice,
    AppealTransition,
    ExtensionApplication,
    Penalty,
    StatementOfAdjustment,
)


class PenaltyAdminForm(forms.ModelForm):
    """The service's rules, checked up front so the admin shows them as form errors."""

    class Meta:
        model = Penalty
        fields = ["program_account", "npa_number", "contravention_code", "description", "amount", "served_on"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None:
            if data.get("amount") is not None and data["amount"] <= 0:
                self.add_error("amount", _("A penalty amount must be positive."))
            if data.get("served_on") and data["served_on"] > timezone.localdate():
                self.add_error("served_on", _("The service date cannot be in the future."))
        return data


class StatementAdminForm(forms.ModelForm):
    class Meta:
        model = StatementOfAdjustment
        fields = ["cad", "number", "decision_date", "new_amount", "change", "reason", "secured"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None:
            if (data.get("new_amount") is None) == (data.get("change") is None):
                self.add_error("change", _("Give either the new amount or the change, not both."))
            else:
                # The service computes the other one; fill it for the model's own validation.
                self.given = "new_amount" if data.get("new_amount") is not None else "change"
                data["change" if self.given == "new_amount" else "new_amount"] = Decimal("0.00")
            cad = data.get("cad")
            if cad is not None and cad.status != "accepted":
                self.add_error("cad", _("Only an accepted CAD can be re-assessed."))
            if data.get("decision_date") and data["decision_date"] > timezone.localdate():
                self.add_error("decision_date", _("The decision date cannot be in the future."))
        return data


@admin.register(Penalty)
class PenaltyAdmin(admin.ModelAdmin):
    form = PenaltyAdminForm
    list_display = ["npa_number", "program_account", "contravention_code", "amount", "served_on"]
    search_fields = ["=npa_number", "=program_account__number"]
    list_select_related = ["program_account"]
    raw_id_fields = ["program_account"]
    fields = ["program_account", "npa_number", "contravention_code", "description", "amount", "served_on",
              "ledger_entry", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        base = ["ledger_entry", "created_by", "created_at"]
        return base + ["program_account", "npa_number", "amount", "served_on"] if obj else base

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        try:
            saved = services.penalty_create(
                actor=request.user, program_account=obj.program_account, npa_number=obj.npa_number,
                contravention_code=obj.contravention_code, amount=obj.amount, served_on=obj.served_on,
                description=obj.description,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            raise
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StatementOfAdjustment)
class StatementOfAdjustmentAdmin(admin.ModelAdmin):
    form = StatementAdminForm
    list_display = ["number", "program_account", "cad", "decision_date", "change", "secured"]
    search_fields = ["=number", "=program_account__number", "=cad__transaction_number"]
    list_filter = ["secured"]
    list_select_related = ["program_account", "cad"]
    raw_id_fields = ["program_account", "cad"]
    fields = ["cad", "number", "decision_date", "new_amount", "change", "reason", "secured", "program_account",
              "previous_amount", "ledger_entry", "secured_by", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        base = ["program_account", "previous_amount", "ledger_entry", "secured_by", "created_by", "created_at"]
        return base + ["cad", "number", "decision_date", "new_amount", "change"] if obj else base

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        for name in ("new_amount", "change"):
            if name in form.base_fields:
                form.base_fields[name].required = False
        return form

    def save_model(self, request, obj, form, change):
        if change:
            if "secured" in form.changed_data:
                services.statement_record_secured(actor=request.user, statement=obj, secured=obj.secured)
            return None
        given = {form.given: form.cleaned_data[form.given]}
        saved = services.statement_create(
            actor=request.user, cad=obj.cad, number=obj.number, decision_date=obj.decision_date, reason=obj.reason,
            **given,
        )
        if obj.secured:
            services.statement_record_secured(actor=request.user, statement=saved)
        obj.pk = saved.pk
        return None

    def has_delete_permission(self, request, obj=None):
        return False


class TransitionInline(admin.TabularInline):
    model = AppealTransition
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "at", "note", "assigned_to"]

    def has_add_permission(self, request, obj=None):
        return False


class DocumentInline(admin.TabularInline):
    model = AppealDocument
    extra = 0
    can_delete = False
    readonly_fields = ["original_name", "content_type", "size", "sha256", "uploaded_by", "uploaded_at"]
    exclude = ["stored_name"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Appeal)
class AppealAdmin(admin.ModelAdmin):
    """Read-only: appeals move only through the transition services (the staff review queue)."""

    list_display = ["pk", "kind", "program_account", "status", "outcome", "decision_date", "submitted_at"]
    list_filter = ["kind", "status", "outcome"]
    search_fields = ["=program_account__number", "=penalty__npa_number"]
    list_select_related = ["program_account"]
    inlines = [TransitionInline, DocumentInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["statements"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AppealTransition)
class AppealTransitionAdmin(admin.ModelAdmin):
    list_display = ["appeal", "from_status", "to_status", "actor", "at"]
    list_filter = ["to_status"]
    list_select_related = ["actor"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AppealDocument)
class AppealDocumentAdmin(admin.ModelAdmin):
    list_display = ["original_name", "appeal", "content_type", "size", "uploaded_at"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ExtensionApplication)
class ExtensionApplicationAdmin(admin.ModelAdmin):
    list_display = ["pk", "program_account", "penalty", "statement", "status", "requested_on"]
    list_filter = ["status"]
    actions = ["grant", "refuse"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Grant the selected extension applications")
    def grant(self, request, queryset):
        for application in queryset:
            try:
                services.extension_decide(actor=request.user, application=application, grant=True)
            except ApplicationError as exc:
                messages.error(request, f"{application}: {exc.message}")

    @admin.action(description="Refuse the selected extension applications")
    def refuse(self, request, queryset):
        for application in queryset:
            try:
                services.extension_decide(actor=request.user, application=application, grant=False,
                                          note="Refused by CBSA.")
            except ApplicationError as exc:
                messages.error(request, f"{application}: {exc.message}")


@admin.register(AppealNotice)
class AppealNoticeAdmin(admin.ModelAdmin):
    list_display = ["appeal", "deadline_kind", "deadline", "threshold", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
