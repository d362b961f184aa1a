from django.contrib import admin

from .models import HolidayOverride


@admin.register(HolidayOverride)
class HolidayOverrideAdmin(admin.ModelAdmin):
    list_display = ["day", "is_holiday", "note"]
    list_filter = ["is_holiday"]
    search_fields = ["note"]
    date_hierarchy = "day"
