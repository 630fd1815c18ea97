"""Jurisdictions and the rules in force there, as data. A later rule change is a new
data migration (or an admin edit), never a code branch."""

from django.db import migrations

JURISDICTIONS = [
    ("US", "United States (federal floor)", None),
    ("US-IL", "Illinois", "US"),
    ("US-CA", "California", "US"),
    ("US-TX", "Texas", "US"),
    ("US-NY", "New York", "US"),
    ("EU", "European Union", None),
    ("DE", "Germany", "EU"),
    ("FR", "France", "EU"),
    ("JP", "Japan", None),
]

WRITTEN = ["web_form_signed", "signed_paper"]
EXPLICIT = ["web_form_signed", "signed_paper", "spoken_phrase"]

RULES = [
    {
        "jurisdiction": "US", "purpose": "", "effective_from": "1970-01-01", "min_age": 18,
        "citation": "State age-of-majority statutes (e.g. Cal. Fam. Code § 6500; 755 ILCS 5/11-1)",
        "summary": "Only adults can give binding consent; contracts with minors are voidable.",
    },
    {
        "jurisdiction": "US", "purpose": "recording", "effective_from": "1968-06-19",
        "all_party_recording": False, "citation": "18 U.S.C. § 2511(2)(d)",
        "summary": "Federal floor: one party's consent suffices to record. This product "
        "still asks every participant.",
    },
    {
        "jurisdiction": "US-IL", "purpose": "recording", "effective_from": "2014-12-30",
        "all_party_recording": True, "citation": "720 ILCS 5/14-2(a) (Illinois eavesdropping)",
        "summary": "Recording a private conversation needs the consent of all parties.",
    },
    {
        "jurisdiction": "US-IL", "purpose": "biometric", "effective_from": "2008-10-03",
        "requires_written": True, "requires_retention_schedule": True, "retention_days": 1095,
        "allowed_evidence_methods": WRITTEN,
        "citation": "740 ILCS 14/15(a)-(b) (Biometric Information Privacy Act)",
        "summary": "Written notice of purpose and term, a written release, and a public "
        "retention schedule; destroy when the purpose is met or within 3 years of the "
        "last interaction, whichever is first.",
    },
    {
        "jurisdiction": "US-CA", "purpose": "recording", "effective_from": "1967-01-01",
        "all_party_recording": True, "citation": "Cal. Penal Code § 632",
        "summary": "Recording a confidential communication needs the consent of all parties.",
    },
    {
        "jurisdiction": "US-CA", "purpose": "likeness", "effective_from": "2025-01-01",
        "requires_written": True, "allowed_evidence_methods": WRITTEN,
        "citation": "Cal. Civ. Code § 3344; Cal. Lab. Code § 927 (AB 2602); "
        "Cal. Civ. Code § 3344.1 (AB 1836)",
        "summary": "Using a voice or a digital replica of it needs the person's consent, "
        "given in writing with a reasonably specific description of the intended uses.",
    },
    {
        "jurisdiction": "US-TX", "purpose": "biometric", "effective_from": "2009-09-01",
        "citation": "Tex. Bus. & Com. Code § 503.001 (CUBI)",
        "summary": "Inform and obtain consent before capturing a biometric identifier; "
        "destroy it no later than one year after the purpose expires.",
    },
    {
        "jurisdiction": "US-TX", "purpose": "biometric", "effective_from": "2026-01-01",
        "requires_speaker_act": True,
        "citation": "Tex. Bus. & Com. Code § 503.001 as amended by HB 149 (TRAIGA, 2025)",
        "summary": "Media being publicly available on the internet is not consent: only "
        "the speaker's own affirmative act counts, never one recorded on their behalf.",
    },
    {
        "jurisdiction": "EU", "purpose": "", "effective_from": "2018-05-25",
        "notice_in_speaker_language": True,
        "citation": "GDPR Art. 6(1)(a), Art. 7, Art. 12(1)",
        "summary": "Consent must be informed, specific and as easy to withdraw as to give; "
        "the notice must be intelligible to the speaker, in their language.",
    },
    {
        "jurisdiction": "EU", "purpose": "biometric", "effective_from": "2018-05-25",
        "requires_explicit": True, "allowed_evidence_methods": EXPLICIT,
        "citation": "GDPR Art. 9(1), Art. 9(2)(a)",
        "summary": "Voice processed to identify a person is special-category data: it "
        "needs explicit consent (a statement, signature or spoken phrase, not a click).",
    },
    {
        "jurisdiction": "JP", "purpose": "", "effective_from": "2022-04-01", "min_age": 18,
        "citation": "Civil Code Art. 4 (age of majority 18); APPI Art. 2(1)-(2)",
        "summary": "Adults from 18. Voice tied to a person is personal information and "
        "voiceprint features are personal identification codes.",
    },
    {
        "jurisdiction": "JP", "purpose": "redistribution", "effective_from": "2022-04-01",
        "citation": "APPI Art. 27(1)",
        "summary": "Providing personal data to a third party needs the person's prior consent.",
    },
]


def seed(apps, schema_editor):
    Jurisdiction = apps.get_model("consent", "Jurisdiction")
    JurisdictionRule = apps.get_model("consent", "JurisdictionRule")
    for code, name, parent in JURISDICTIONS:
        Jurisdiction.objects.update_or_create(
            code=code, defaults={"name": name, "parent_id": parent}
        )
    for rule in RULES:
        fields = dict(rule)
        jurisdiction = fields.pop("jurisdiction")
        JurisdictionRule.objects.get_or_create(
            jurisdiction_id=jurisdiction,
            purpose=fields.pop("purpose"),
            citation=fields.pop("citation"),
            defaults=fields,
        )


def unseed(apps, schema_editor):
    apps.get_model("consent", "JurisdictionRule").objects.all().delete()
    apps.get_model("consent", "Jurisdiction").objects.filter(parent__isnull=False).delete()
    apps.get_model("consent", "Jurisdiction").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_event_chain_functions")]

    operations = [migrations.RunPython(seed, unseed)]
