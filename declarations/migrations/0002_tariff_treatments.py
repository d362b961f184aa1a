"""The Customs Tariff's treatments are reference data every CAD needs: load them with the schema."""

from django.db import migrations

TREATMENTS = [
    ("MFN", "Most-Favoured-Nation Tariff", "Tarif de la nation la plus favorisée"),
    ("UST", "United States Tariff (CUSMA)", "Tarif des États-Unis (ACEUM)"),
    ("MXT", "Mexico Tariff (CUSMA)", "Tarif du Mexique (ACEUM)"),
    ("CPTPT", "CPTPP Tariff", "Tarif du PTPGP"),
    ("CEUT", "Canada–European Union Tariff (CETA)", "Tarif Canada–Union européenne (AECG)"),
    ("UKT", "United Kingdom Tariff", "Tarif du Royaume-Uni"),
    ("GPT", "General Preferential Tariff", "Tarif de préférence général"),
    ("LDCT", "Least Developed Country Tariff", "Tarif des pays les moins développés"),
    ("CT", "Chile Tariff", "Tarif du Chili"),
    ("CIAT", "Canada–Israel Agreement Tariff", "Tarif de l'Accord Canada–Israël"),
    ("CRT", "Costa Rica Tariff", "Tarif du Costa Rica"),
    ("PT", "Peru Tariff", "Tarif du Pérou"),
    ("COLT", "Colombia Tariff", "Tarif de la Colombie"),
    ("JT", "Jordan Tariff", "Tarif de la Jordanie"),
    ("PAT", "Panama Tariff", "Tarif du Panama"),
    ("HNT", "Honduras Tariff", "Tarif du Honduras"),
    ("KRT", "Korea Tariff", "Tarif de la Corée"),
]


def load(apps, schema_editor):
    TariffTreatment = apps.get_model("declarations", "TariffTreatment")
    for order, (code, name_en, name_fr) in enumerate(TREATMENTS, start=1):
        TariffTreatment.objects.update_or_create(
            code=code, defaults={"name_en": name_en, "name_fr": name_fr, "sort_order": order * 10}
        )


class Migration(migrations.Migration):
    dependencies = [("declarations", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
