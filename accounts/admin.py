from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from carm_portal.admin import BigTableAdmin

from .models import AuditEvent, Business, ClientGroup, Delegation, Membership, ProgramAccount, User


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["business", "program_account"]
    fields = ["business", "program_account", "role", "status", "decided_at"]
    readonly_fields = ["decided_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "preferred_language"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "preferred_language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class ProgramAccountInline(admin.TabularInline):
    model = ProgramAccount
    extra = 0
    fields = ["number", "name", "activity", "status", "rpp_status"]


@admin.register(Business)
class BusinessAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "operating_name", "bn9", "kind", "is_non_resident", "city", "province", "created_at"]
    list_filter = ["kind", "is_non_resident", "accounts_itself", "province", "offsetting_preference"]
    search_fields = ["legal_name", "operating_name", "bn9", "broker_licence_number"]
    inlines = [ProgramAccountInline]
    date_hierarchy = "created_at"


@admin.register(ProgramAccount)
class ProgramAccountAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "business", "activity", "status", "rpp_status"]
    list_filter = ["activity", "status", "rpp_status"]
    search_fields = ["number", "name", "business__legal_name", "business__bn9"]
    list_select_related = ["business"]
    autocomplete_fields = ["business"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "business", "program_account", "role", "status", "requested_at", "decided_at"]
    list_filter = ["role", "status", "business__kind"]
    search_fields = ["user__email", "business__legal_name", "business__bn9"]
    list_select_related = ["user", "business", "program_account"]
    autocomplete_fields = ["user", "business", "program_account"]


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    list_display = [
        "broker", "importer", "coverage", "status", "valid_from", "valid_to", "scope_financial",
        "scope_cad_submit", "scope_adjust", "scope_appeals", "scope_security",
    ]
    list_filter = ["status", "coverage", "scope_financial", "scope_cad_submit", "scope_appeals"]
    search_fields = ["broker__legal_name", "importer__legal_name", "broker__bn9", "importer__bn9"]
    list_select_related = ["broker", "importer"]
    autocomplete_fields = ["broker", "importer", "program_accounts"]
    date_hierarchy = "requested_at"
    readonly_fields = ["requested_by", "requested_at", "decided_by", "decided_at", "revoked_by", "revoked_at"]


@admin.register(ClientGroup)
class ClientGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "broker"]
    search_fields = ["name", "broker__legal_name"]
    autocomplete_fields = ["broker", "clients", "members"]


@admin.register(AuditEvent)
class AuditEventAdmin(BigTableAdmin):
    """Read-only: the audit trail is append-only. Millions of rows (carm_portal.admin.BigTableAdmin):
    no date hierarchy and no DISTINCT over the actions; exact search on indexed columns."""

    list_display = ["created_at", "action", "actor", "acting_for", "target_repr", "ip_address"]
    list_filter = ["created_at"]
    exact_search_fields = ("action", "actor__email", "acting_for__bn9")
    search_help_text = _("An exact action (cad.submit), user email or business number (BN9).")
    list_select_related = ["actor", "acting_for"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
