"""Demo reference data: tariff treatments, ~30 common tariff items, exchange-rate curves.

The classifications are real Customs Tariff headings with plausible MFN rates (2025 schedule,
rounded); preferential rates are Free as most are after the trade agreements' phase-outs.
Apparel, textiles and footwear are excluded from GPT, as in the real tariff. Specific
(per-unit) customs duties are not modelled: wine shows its MFN as Free and carries excise duty.
This is demo data, not a tariff: an admin keeps the real table.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

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

PREFERENTIAL = ("UST", "MXT", "CPTPT", "CEUT", "UKT", "LDCT", "CT", "CIAT", "CRT", "PT", "COLT", "JT", "PAT",
                "HNT", "KRT")

# (classification, English, French, unit, MFN %, GPT excluded, excise duty/unit, excise tax/unit)
TARIFF_ITEMS = [
    ("6109100011", "T-shirts, singlets and other vests, knitted, of cotton, for men or boys",
     "T-shirts, gilets de corps et maillots, en bonneterie, de coton, pour hommes ou garçonnets",
     "NMB", "18", True, None, None),
    ("6109100021", "T-shirts, knitted, of cotton, for women or girls",
     "T-shirts, en bonneterie, de coton, pour femmes ou fillettes", "NMB", "18", True, None, None),
    ("6110200010", "Sweaters and pullovers, knitted, of cotton", "Chandails et pull-overs, en bonneterie, de coton",
     "NMB", "18", True, None, None),
    ("6203420010", "Men's or boys' trousers of cotton, denim", "Pantalons pour hommes ou garçonnets, de coton, denim",
     "NMB", "17", True, None, None),
    ("6204620010", "Women's or girls' trousers of cotton, denim", "Pantalons pour femmes ou fillettes, de coton, denim",
     "NMB", "17", True, None, None),
    ("6302600000", "Toilet and kitchen linen of terry towelling, of cotton",
     "Linge de toilette ou de cuisine, bouclé du genre éponge, de coton", "KGM", "17", True, None, None),
    ("6402990090", "Footwear with outer soles and uppers of rubber or plastics, other",
     "Chaussures à semelles extérieures et dessus en caoutchouc ou en matière plastique, autres",
     "PR", "18", True, None, None),
    ("6403990010", "Footwear with uppers of leather, for men, other",
     "Chaussures à dessus en cuir naturel, pour hommes, autres", "PR", "18", True, None, None),
    ("6404110000", "Sports footwear with uppers of textile materials",
     "Chaussures de sport à dessus en matières textiles", "PR", "16", True, None, None),
    ("4202220010", "Handbags with outer surface of textile materials",
     "Sacs à main à surface extérieure en matières textiles", "NMB", "10.5", True, None, None),
    ("8471300000", "Portable automatic data processing machines (laptops)",
     "Machines automatiques de traitement de l'information portatives (ordinateurs portables)",
     "NMB", "0", False, None, None),
    ("8471410000", "Other automatic data processing machines (desktop computers)",
     "Autres machines automatiques de traitement de l'information (ordinateurs de bureau)",
     "NMB", "0", False, None, None),
    ("8517130000", "Smartphones", "Téléphones intelligents", "NMB", "0", False, None, None),
    ("8528720000", "Television receivers, colour", "Appareils récepteurs de télévision, en couleurs",
     "NMB", "5", False, None, None),
    ("8504409000", "Static converters, other", "Convertisseurs statiques, autres", "NMB", "0", False, None, None),
    ("8415200000", "Air conditioning machines of a kind used for persons in motor vehicles",
     "Machines et appareils pour le conditionnement de l'air des habitacles de véhicules automobiles",
     "NMB", "6", False, None, "100"),
    ("8418210010", "Household refrigerators, compression-type",
     "Réfrigérateurs ménagers, à compression", "NMB", "6", False, None, None),
    ("8450110000", "Fully-automatic household washing machines",
     "Machines à laver le linge entièrement automatiques, ménagères", "NMB", "8", False, None, None),
    ("8703230090", "Motor cars, spark-ignition, 1,500 to 3,000 cc, other",
     "Voitures de tourisme, à allumage par étincelles, de 1 500 à 3 000 cm³, autres",
     "NMB", "6.1", False, None, None),
    ("4011100000", "New pneumatic tyres of rubber, for motor cars",
     "Pneumatiques neufs en caoutchouc, pour voitures de tourisme", "NMB", "7", False, None, None),
    ("8708300000", "Brakes and servo-brakes and parts thereof, for motor vehicles",
     "Freins et servo-freins et leurs parties, pour véhicules automobiles", "KGM", "6", False, None, None),
    ("9403600090", "Other wooden furniture", "Autres meubles en bois", "NMB", "9.5", False, None, None),
    ("9403300000", "Wooden furniture of a kind used in offices", "Meubles en bois des types utilisés dans les bureaux",
     "NMB", "9.5", False, None, None),
    ("9401610000", "Upholstered seats with wooden frames", "Sièges rembourrés, avec bâti en bois",
     "NMB", "9.5", False, None, None),
    ("9503000090", "Toys, other", "Jouets, autres", "NMB", "0", False, None, None),
    ("9506910000", "Articles and equipment for general physical exercise",
     "Articles et matériel pour la culture physique", "NMB", "0", False, None, None),
    ("3304990000", "Beauty or make-up preparations, other",
     "Produits de beauté ou de maquillage, autres", "KGM", "6.5", False, None, None),
    ("3926909990", "Other articles of plastics", "Autres ouvrages en matières plastiques",
     "KGM", "6.5", False, None, None),
    ("7318150000", "Other screws and bolts of iron or steel", "Autres vis et boulons en fonte, fer ou acier",
     "KGM", "6", False, None, None),
    ("7323930000", "Table, kitchen or household articles of stainless steel",
     "Articles de ménage ou d'économie domestique en aciers inoxydables", "KGM", "6.5", False, None, None),
    ("0901210000", "Coffee, roasted, not decaffeinated", "Café torréfié, non décaféiné", "KGM", "0", False, None, None),
    ("1806320000", "Chocolate in blocks or bars, not filled", "Chocolat en blocs ou en barres, non fourré",
     "KGM", "6", False, None, None),
    ("3004900000", "Medicaments, in measured doses, other", "Médicaments, en doses, autres",
     "KGM", "0", False, None, None),
    ("2204214100", "Wine of fresh grapes, ≤ 13.7 % vol, in containers ≤ 2 L",
     "Vins de raisins frais, ≤ 13,7 % vol, en récipients ≤ 2 L", "LTR", "0", False, "0.7681", None),
]

# The demo items' GST status where it is not taxable (codes: declarations.reference_tables).
# Roasted coffee is a basic grocery: non-taxable on import (Excise Tax Act Schedule VII s.1).
GST_STATUS_BY_ITEM = {"0901210000": "S7-1"}

# (currency, central rate to CAD, relative swing, decimal places) — Bank of Canada-like levels.
CURRENCIES = [
    ("USD", Decimal("1.3800"), Decimal("0.015"), 4),
    ("EUR", Decimal("1.5400"), Decimal("0.030"), 4),
    ("GBP", Decimal("1.8300"), Decimal("0.025"), 4),
    ("CNY", Decimal("0.1910"), Decimal("0.020"), 4),
    ("MXN", Decimal("0.0740"), Decimal("0.050"), 4),
    ("JPY", Decimal("0.009300"), Decimal("0.035"), 6),
]


def rate_on(currency: str, day: date) -> Decimal:
    """A plausible rate for ``currency`` on ``day``: a slow wave plus small daily noise.

    Deterministic in (currency, day), so reseeding on another day gives the same history.
    """
    base, swing, places = next((b, s, p) for c, b, s, p in CURRENCIES if c == currency)
    t = day.toordinal()
    wave = math.sin(2 * math.pi * t / 365.0) * 0.6 + math.sin(2 * math.pi * t / 97.0) * 0.4
    noise = int(hashlib.sha256(f"{currency}{day.isoformat()}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF - 0.5
    factor = Decimal(1) + swing * Decimal(str(round(wave + noise * 0.2, 6)))
    return (base * factor).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
