"""Reference tables a CAD line is checked against: which origins a tariff treatment allows, the
GST status of goods, and the correction/adjustment reason codes. Sources are cited per entry;
**ASSUMPTION** marks what could not be verified (``carm-rules.md`` style). Every table is loaded
by migration 0003 and editable in the admin: an admin keeps the real lists.

``load(apps_or_models)`` upserts the tables (migration, ``seed_tariffs`` and the tests' fixtures).
"""

from __future__ import annotations

# --- Countries of origin by tariff treatment ---------------------------------------------------------
#
# Source: Customs Tariff (S.C. 1997, c. 36), the schedule's "List of Countries and Applicable Tariff
# Treatments", and CBSA guide-3 (https://cbsa-asfc.gc.ca/import/guide-3-eng.html) for the treatment
# names; rules of origin and proof of origin: memoranda D11-4-2 (proof of origin), D11-4-3 .. D11-4-6.
# CARM itself refuses such a line ("Tariff Treatment &* cannot be used with country entered":
# https://knowledge-base.globaletrade.services/portal/en/kb/articles/tcc24-144-carm-common-commercial-accounting-declaration-cad-errors).
# Countries are ISO 3166 alpha-2 codes (the CAD's origin field).

ONLY = "only"        # the treatment applies to goods of the listed countries only
EXCEPT = "except"    # the treatment applies to goods of any country but the listed ones

def _codes(text: str) -> list[str]:
    return text.split()


EU_MEMBERS = _codes("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE")

# ASSUMPTION: the UN list of least developed countries as of 2025 (Bhutan 2023, Angola 2024 and
# São Tomé and Príncipe 2024 graduated). Canada's LDCT list in the Customs Tariff schedule is not
# verified against it and may lag a graduation.
LDCT_COUNTRIES = _codes(
    "AF BD BJ BF BI KH CF TD KM CD DJ ER ET GM GN GW HT KI LA LS LR MG MW ML MR MZ MM NP NE RW SN SL SB SO "
    "SS SD TL TG TV UG TZ YE ZM"
)

# ASSUMPTION: GPT beneficiaries = the LDCT countries plus lower-middle-income countries kept after
# the 2015 review (Economic Action Plan 2013 removed high and upper-middle income countries,
# China among them, from 2015-01-01). Not verified entry by entry against the Customs Tariff's list.
GPT_COUNTRIES = sorted({
    *LDCT_COUNTRIES,
    *_codes("AO BT BO CG CI CM EG GH ID IN KE KG LK MA MN NG NI PG PH PK ST TJ UZ VU ZW"),
})

# (treatment, rule, countries, proof of origin required, source / note)
TREATMENT_ORIGINS = [
    ("MFN", EXCEPT, ["KP", "RU", "BY"], False,
     "Customs Tariff: MFN for all countries entitled to it. Not entitled (General Tariff applies): North "
     "Korea; Russia and Belarus since 2022-03-03 (ASSUMPTION: date and scope not re-checked). The General Tariff is not modelled."),
    ("UST", ONLY, ["US", "PR"], True,
     "CUSMA: goods originating in the United States. Puerto Rico is in the US customs "
     "territory under CUSMA art. 1.5 (ASSUMPTION: CBSA's country list codes it PR separately)."),
    ("MXT", ONLY, ["MX"], True, "CUSMA: goods originating in Mexico."),
    ("CPTPT", ONLY, ["AU", "BN", "CL", "JP", "MX", "MY", "NZ", "PE", "SG", "VN"], True,
     "CPTPP: parties for which the agreement is in force with Canada (2018-12-30 AU JP "
     "MX NZ SG; 2019 VN; 2021 PE; 2022 MY; 2023 CL BN). ASSUMPTION: the United Kingdom's accession (2024) is "
     "not listed; UK goods use UKT."),
    ("CEUT", ONLY, EU_MEMBERS, True, "CETA: goods originating in an EU member state."),
    ("UKT", ONLY, ["GB"], True, "Canada–UK Trade Continuity Agreement: the United Kingdom."),
    ("GPT", ONLY, GPT_COUNTRIES, True,
     "Customs Tariff: GPT beneficiaries. ASSUMPTION: list not verified against the schedule (see "
     "GPT_COUNTRIES). Apparel, textiles and footwear are excluded by the tariff's rates, not here."),
    ("LDCT", ONLY, LDCT_COUNTRIES, True,
     "Customs Tariff: least developed country beneficiaries. ASSUMPTION: the UN LDC list (see LDCT_COUNTRIES)."),
    ("CT", ONLY, ["CL"], True, "CCFTA: Chile."),
    ("CIAT", ONLY, ["IL"], True,
     "CIFTA: Israel. ASSUMPTION: other CIFTA beneficiaries (West Bank and Gaza Strip) are "
     "not listed; add them here if needed."),
    ("CRT", ONLY, ["CR"], True, "CCRFTA: Costa Rica."),
    ("PT", ONLY, ["PE"], True, "CPFTA: Peru."),
    ("COLT", ONLY, ["CO"], True, "CCOFTA: Colombia."),
    ("JT", ONLY, ["JO"], True, "CJFTA: Jordan."),
    ("PAT", ONLY, ["PA"], True, "CPAFTA: Panama."),
    ("HNT", ONLY, ["HN"], True, "CHFTA: Honduras."),
    ("KRT", ONLY, ["KR"], True, "CKFTA: Korea."),
]

# --- GST status of imported goods ---------------------------------------------------------------------
#
# GST on imports: Excise Tax Act Part IX Division III (s.212, 5 %); non-taxable importations: ETA
# Schedule VII. Roasted coffee is a basic grocery (ETA Schedule VI Part III s.1), so its importation is
# non-taxable under Schedule VII s.1 (ASSUMPTION: s.1's exact scope, "zero-rated supplies of Schedule VI",
# paraphrased, not re-read).
# ASSUMPTION (codes): CARM's own GST exemption codes are in memo D18-5-1 ("Coding Excise and GST
# exemption codes in CARM", https://www.cbsa-asfc.gc.ca/publications/dm-md/d18/d18-5-1-eng.html) and the
# B3's in D17-1-10; neither list was retrieved, so these codes are the portal's own. Replace them in the
# admin with D18-5-1's when known.
TAXABLE = "TAX"
GST_STATUSES = [
    # (code, taxable, English, French, legal basis)
    (TAXABLE, True, "Taxable: GST at the GST rate (5 %)", "Taxable : TPS au taux de la TPS (5 %)",
     "Excise Tax Act s.212"),
    ("S7-1", False,
     "Non-taxable: zero-rated goods (basic groceries, prescription drugs, medical devices, farm and fishing "
     "products) – ETA Schedule VII s.1",
     "Non taxable : produits détaxés (produits alimentaires de base, médicaments sur ordonnance, appareils "
     "médicaux, produits agricoles et de la pêche) – LTA annexe VII art. 1",
     "Excise Tax Act Schedule VII s.1, with Schedule VI Parts I–IV"),
    ("S7", False,
     "Non-taxable: another section of ETA Schedule VII (give the section in the remarks)",
     "Non taxable : autre article de l'annexe VII de la LTA (indiquer l'article dans les remarques)",
     "Excise Tax Act Schedule VII"),
]

# --- Correction and adjustment reason codes ---------------------------------------------------------
#
# Memo D17-2-1 Appendix A ("Adjusting Commercial Accounting Declarations") lists the codes an importer
# may use and those reserved for CBSA (CSCB CARM bulletin 5415:
# https://cscb.ca/en/article/carm-bulletin-5415-upward-adjustments-using-incorrect-reason-code). The
# appendix itself was not retrieved. The codes below marked [5417] or [5412] are quoted by CARM
# bulletins 5417 (https://cscb.ca/en/article/carm-bulletin-5417-ordering-reason-codes-when-submitting-cad-adjustments)
# and 5412 (https://cscb.ca/en/article/carm-bulletin-5412-reason-codes-certain-free-trade-agreements);
# their descriptions are ours, from the Customs Act section the code names. Bulletin 5417 spells one
# code "R3-32.2.VFD"; it is stored here as "R3-32-2.VFD" like its siblings (ASSUMPTION).
# ASSUMPTION: the codes marked so are not quoted anywhere we found; they follow the same pattern.
IMPORTER = "importer"
CBSA = "cbsa"
REASON_CODES = [
    # (code, party, English, French, source)
    ("R3-32-2.VFD", IMPORTER, "s. 32.2 correction: value for duty", "Correction art. 32.2 : valeur en douane",
     "[5417]"),
    ("R3-32-2.TC", IMPORTER, "s. 32.2 correction: tariff classification",
     "Correction art. 32.2 : classement tarifaire", "[5417]"),
    ("R2-32-2.TC", IMPORTER, "s. 32.2 correction: tariff classification (with a refund claim first)",
     "Correction art. 32.2 : classement tarifaire (après une demande de remboursement)", "[5417]"),
    ("R3-32-2.OR", IMPORTER, "s. 32.2 correction: origin", "Correction art. 32.2 : origine", "ASSUMPTION"),
    ("R2-74-1-TT", IMPORTER, "s. 74 refund: tariff treatment", "Remboursement art. 74 : traitement tarifaire",
     "[5417]"),
    ("R2-74-1-C11", IMPORTER,
     "s. 74(1)(c.11) refund: preferential tariff treatment under a free trade agreement (e.g. MFN to CETA)",
     "Remboursement al. 74(1)c.11) : traitement tarifaire préférentiel d'un accord de libre-échange",
     "[5412]"),
    ("R2-74-1-E.TC", IMPORTER, "s. 74(1)(e) refund: error in tariff classification",
     "Remboursement al. 74(1)e) : erreur de classement tarifaire", "[5417]"),
    ("R2-74-1-E.VFD", IMPORTER, "s. 74(1)(e) refund: error in value for duty",
     "Remboursement al. 74(1)e) : erreur de valeur en douane", "ASSUMPTION"),
    ("R2-74-1-G-53", IMPORTER, "s. 74(1)(g) refund: surtax", "Remboursement al. 74(1)g) : surtaxe", "[5417]"),
    ("R2-74-1-GR-53", IMPORTER, "s. 74(1)(g) refund: surtax, with an Order in Council claimed",
     "Remboursement al. 74(1)g) : surtaxe, avec un décret invoqué", "[5417]"),
    ("R1-59-1-A", CBSA, "CBSA re-determination, s. 59(1)(a) (reserved for CBSA)",
     "Révision de l'ASFC, al. 59(1)a) (réservé à l'ASFC)", "ASSUMPTION"),
    ("R1-59-1-B", CBSA, "CBSA further re-determination, s. 59(1)(b) (reserved for CBSA)",
     "Réexamen de l'ASFC, al. 59(1)b) (réservé à l'ASFC)", "ASSUMPTION"),
]


def load(TariffTreatment, GstStatus, ReasonCode) -> None:
    """Upsert the three tables (pass the models, or a migration's historical models)."""
    for code, rule, countries, proof, source in TREATMENT_ORIGINS:
        TariffTreatment.objects.filter(code=code).update(
            origin_rule=rule, origin_countries=" ".join(sorted(countries)),
            proof_of_origin_required=proof, source=source,
        )
    for order, (code, taxable, name_en, name_fr, basis) in enumerate(GST_STATUSES, start=1):
        GstStatus.objects.update_or_create(code=code, defaults={
            "taxable": taxable, "name_en": name_en, "name_fr": name_fr, "legal_basis": basis,
            "sort_order": order * 10,
        })
    for order, (code, party, name_en, name_fr, source) in enumerate(REASON_CODES, start=1):
        ReasonCode.objects.update_or_create(code=code, defaults={
            "party": party, "description_en": name_en, "description_fr": name_fr, "source": source,
            "sort_order": order * 10, "is_active": True,
        })
    # The treatments were changed with update() (no signals): the process memos must re-read them
    # (the GST statuses' saves send their signals).
    from carm_portal import reference_tables as memoised

    from .validation import TREATMENTS_TABLE

    memoised.bump(TREATMENTS_TABLE)
