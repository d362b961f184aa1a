"""The CBSA officer right (``accounts.cbsa_officer``) and the "CBSA officers" group that holds it.

Until now "officer" meant ``is_staff`` (Django admin access). Admin access alone now grants no
tenant data: an administrator adds each officer to the group (superusers hold every right).
"""

from django.db import migrations

GROUP = "CBSA officers"
CODENAME = "cbsa_officer"


def forward(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="accounts", model="user")
    permission, _ = Permission.objects.get_or_create(
        codename=CODENAME, content_type=content_type,
        defaults={"name": "Works CBSA's side of the portal (every account)"},
    )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(permission)


def backward(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.filter(name=GROUP).delete()
    Permission.objects.filter(codename=CODENAME, content_type__app_label="accounts").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, backward)]
