"""Every code the FHIR resources carry, with its source next to it.

Where no source could be read for a code, the concept is coded in KetaFlow's own code system
(``KETAFLOW_CS``) and the text says what it is; the README and docs/architecture.md list those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ketaflow.clinical import Instrument

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION: Final = (
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
)
CONSENT_SCOPE: Final = "http://terminology.hl7.org/CodeSystem/consentscope"
AUDIT_ACTION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"

# KetaFlow's own systems (the same origin as the intake schema's $id, clinical/eligibility.py).
KETAFLOW: Final = "https://ketaflow.org/fhir"
KETAFLOW_CS: Final = f"{KETAFLOW}/CodeSystem"
MRN_SYSTEM: Final = f"{KETAFLOW}/sid/mrn"  # + "/<clinic slug>": a record number is per clinic
QUESTIONNAIRE: Final = f"{KETAFLOW}/Questionnaire"  # + "/<instrument>" (phq9, gad7, pcl5, cssrs)


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str
    source: str  # where the code was read

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


# ---- vital signs ---------------------------------------------------------------------------
# The FHIR R4 vital signs profile (hl7.org/fhir/R4/observation-vitalsigns.html) and its value
# set (hl7.org/fhir/r4/valueset-observation-vitalsignresult.html, read via docs/reference/
# comparable-software.md s. 3 and interop-security-operations.md "Codes").
_VS = "FHIR R4 vital signs profile; docs/reference/interop-security-operations.md"
VITALS_PANEL: Final = Code(
    LOINC,
    "85353-1",
    "Vital signs, weight, height, head circumference, oxygen saturation and BMI panel",
    _VS,
)
BLOOD_PRESSURE: Final = Code(
    LOINC, "85354-9", "Blood pressure panel with all children optional", _VS
)
SYSTOLIC: Final = Code(LOINC, "8480-6", "Systolic blood pressure", _VS)
DIASTOLIC: Final = Code(LOINC, "8462-4", "Diastolic blood pressure", _VS)
HEART_RATE: Final = Code(LOINC, "8867-4", "Heart rate", _VS)
RESPIRATORY_RATE: Final = Code(LOINC, "9279-1", "Respiratory rate", _VS)
# SpO2: the vital signs profile's 2708-6 with US Core pulse oximetry's 59408-5 beside it
# (US Core Pulse Oximetry profile; docs/reference/clinical.md "Vital-sign LOINC codes").
SPO2_PULSE_OXIMETRY: Final = Code(
    LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", _VS
)
SPO2_ARTERIAL: Final = Code(LOINC, "2708-6", "Oxygen saturation in Arterial blood", _VS)
VITAL_SIGNS_CATEGORY: Final = Code(
    OBSERVATION_CATEGORY,
    "vital-signs",
    "Vital Signs",
    "hl7.org/fhir/R4/codesystem-observation-category.html",
)
SURVEY_CATEGORY: Final = Code(
    OBSERVATION_CATEGORY, "survey", "Survey", "hl7.org/fhir/R4/codesystem-observation-category.html"
)

# UCUM units of the vital signs profile (its unit bindings).
MM_HG: Final = "mm[Hg]"
PER_MIN: Final = "/min"
PERCENT: Final = "%"
SCORE_UNIT: Final = "{score}"  # UCUM annotation; LOINC's example unit of score terms

# ---- questionnaire totals ------------------------------------------------------------------
_PHQ = (
    "docs/reference/clinical.md s. 5 (PHQ-9 panel 44249-1, total 44261-6, item 9 44260-8; US Core "
    "Observation Screening Assessment examples)"
)
_GAD = "docs/reference/clinical.md s. 5 (GAD-7 panel 69737-5, total 70274-6)"
_PCL = (
    "LOINC 2.82 term 101698-9 'PTSD PCL-5 score [PCL-5]', class SURVEY.MTLHLTH (healthassure.in/"
    "codes/loinc-101698-9); panel 101697-1 (findacode.com/loinc/101697-1)"
)
_CSSRS = (
    "LOINC 2.82 term 93374-7 'Suicide risk level', class SURVEY.CSSRS (healthassure.in/codes/"
    "loinc-93374-7-suicide-risk-level); used as the C-SSRS screener's risk item in HL7 US "
    "Behavioral Health Profiles' QuestionnaireResponse-C-SSRS-example-1"
)


@dataclass(frozen=True)
class InstrumentCodes:
    instrument: Instrument
    panel: Code | None  # the questionnaire's LOINC panel
    total: Code  # the Observation of the score (the C-SSRS: its risk level, not a sum)


INSTRUMENT_CODES: Final[dict[Instrument, InstrumentCodes]] = {
    Instrument.PHQ9: InstrumentCodes(
        Instrument.PHQ9,
        Code(LOINC, "44249-1", "PHQ-9 quick depression assessment panel", _PHQ),
        Code(LOINC, "44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score", _PHQ),
    ),
    Instrument.GAD7: InstrumentCodes(
        Instrument.GAD7,
        Code(LOINC, "69737-5", "Generalized anxiety disorder 7 item (GAD-7)", _GAD),
        Code(LOINC, "70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score", _GAD),
    ),
    Instrument.PCL5: InstrumentCodes(
        Instrument.PCL5,
        Code(
            LOINC,
            "101697-1",
            "Post traumatic stress disorder checklist - civilian version DSM-5 [PCL-5]",
            _PCL,
        ),
        Code(LOINC, "101698-9", "PTSD PCL-5 score [PCL-5]", _PCL),
    ),
    # The C-SSRS screener has no total; its result is the triage risk level. The LOINC panel of
    # the full scale (93245-9) is not the screener, so none is claimed for the questionnaire.
    Instrument.CSSRS: InstrumentCodes(
        Instrument.CSSRS, None, Code(LOINC, "93374-7", "Suicide risk level", _CSSRS)
    ),
}

# The C-SSRS risk levels in KetaFlow's own system: a LOINC answer code was read for "Low"
# (LA9194-7) and "High" (LA9193-9) but not for "Moderate", so none of them is claimed.
CSSRS_RISK_SYSTEM: Final = f"{KETAFLOW_CS}/cssrs-risk-level"

# ---- the infusion ----------------------------------------------------------------------------
# Ketamine: the RxNorm ingredient code (6130 is widely quoted) could not be read in a source
# here (openFDA names only the injectable products' RXCUIs), so ketamine is coded in KetaFlow's
# own system, with its name as text. Verify 6130 against RxNav before adding it.
KETAMINE: Final = Code(
    f"{KETAFLOW_CS}/medication", "ketamine", "Ketamine", "KetaFlow (RxNorm unverified)"
)
# SNOMED CT 47625008 |Intravenous route (qualifier value)|: in FHIR's SNOMED CT route value set
# (hl7.org/fhir/ValueSet/route-codes, descendants of 284009009) and HL7 examples of IV dosing.
IV_ROUTE: Final = Code(
    SNOMED, "47625008", "Intravenous route (qualifier value)", "hl7.org/fhir/ValueSet/route-codes"
)
# The infusion as a procedure: no SNOMED CT or CPT code was read for it; KetaFlow's own.
KETAMINE_INFUSION: Final = Code(
    f"{KETAFLOW_CS}/procedure", "ketamine-infusion", "Intravenous ketamine infusion", "KetaFlow"
)
ML_PER_H: Final = "mL/h"
MG: Final = "mg"

# ---- consent -----------------------------------------------------------------------------------
# Scope "treatment" (hl7.org/fhir/R4/valueset-consent-scope.html); category LOINC 59284-0
# "Patient Consent" (the R4 consent-category value set; used by R4 Consent examples).
CONSENT_TREATMENT: Final = Code(
    CONSENT_SCOPE, "treatment", "Treatment", "hl7.org/fhir/R4/valueset-consent-scope.html"
)
CONSENT_CATEGORY: Final = Code(
    LOINC, "59284-0", "Patient Consent", "hl7.org/fhir/r4/valueset-consent-category.html"
)

# ---- profiles ----------------------------------------------------------------------------------
US_CORE: Final = "http://hl7.org/fhir/us/core/StructureDefinition"
PROFILES: Final[dict[str, list[str]]] = {
    "Patient": [f"{US_CORE}/us-core-patient"],
    "Condition": [f"{US_CORE}/us-core-condition-problems-health-concerns"],
    "AllergyIntolerance": [f"{US_CORE}/us-core-allergyintolerance"],
    "vitals-panel": [
        "http://hl7.org/fhir/StructureDefinition/vitalspanel",
        f"{US_CORE}/us-core-vital-signs",
    ],
    "bp": ["http://hl7.org/fhir/StructureDefinition/bp", f"{US_CORE}/us-core-blood-pressure"],
    "hr": ["http://hl7.org/fhir/StructureDefinition/heartrate", f"{US_CORE}/us-core-heart-rate"],
    "spo2": [
        "http://hl7.org/fhir/StructureDefinition/oxygensat",
        f"{US_CORE}/us-core-pulse-oximetry",
    ],
    "rr": [
        "http://hl7.org/fhir/StructureDefinition/resprate",
        f"{US_CORE}/us-core-respiratory-rate",
    ],
    "score": [f"{US_CORE}/us-core-observation-screening-assessment"],
    "QuestionnaireResponse": [f"{US_CORE}/us-core-questionnaireresponse"],
    "Procedure": [f"{US_CORE}/us-core-procedure"],
}
