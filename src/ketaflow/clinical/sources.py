"""Short citations used next to clinical numbers and in findings.

The full provenance (what was read, what is recalled) is in ``docs/reference/clinical.md``; a tag
"[RECALLED, unverified]" or "[SECONDARY]" is carried over where that document uses it, and
"clinic policy" marks numbers that no publication gives (they are settings a clinic must review).
"""

from __future__ import annotations

from typing import Final

PCL5_WEATHERS_2013: Final = (
    "PCL-5: Weathers et al. 2013 (National Center for PTSD); Blevins et al. 2015, "
    "J Trauma Stress 28:489-498"
)
PCL5_CUTPOINT_VA: Final = "PCL-5 probable PTSD cut-point 31-33: VA National Center for PTSD"
PCL5_MARX_2022: Final = (
    "Marx et al. 2022, Psychol Assess (PCL-5 reliable change 15-18, end-state <=28)"
)
PCL5_MCID_VA: Final = "VA National Center for PTSD guidance (10 points) [RECALLED, unverified]"
CAPS5_WEATHERS_2018: Final = "CAPS-5: Weathers et al. 2015/2018 (National Center for PTSD)"
CAPS5_MARX_2022: Final = (
    "Marx et al. 2022, Psychol Assess (CAPS-5 reliable change 12-13, end-state <=8)"
)
PHQ9_KROENKE_2001: Final = "PHQ-9: Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606-613"
PHQ9_MCID_LOWE_2004: Final = (
    "Lowe et al. 2004, Med Care 42:1194-1201 (5 points) [RECALLED, unverified]"
)
GAD7_SPITZER_2006: Final = "GAD-7: Spitzer et al. 2006, Arch Intern Med 166:1092-1097"
CSSRS_POSNER_2011: Final = (
    "C-SSRS screener: Posner et al. 2011, Am J Psychiatry 168:1266-1277; Columbia triage "
    "(low/moderate/high mapping partly RECALLED, see clinical.md section 5)"
)
MADRS_1979: Final = "MADRS: Montgomery & Asberg 1979, Br J Psychiatry 134:382-389"
MADRS_REMISSION_KETECT: Final = (
    "KetECT, Ekstrand et al. 2022 (MADRS remission <=10; others use <=12)"
)
CADSS_BREMNER_1998: Final = (
    "CADSS: Bremner et al. 1998, J Trauma Stress 11:125-136; 23-item version in the ketamine "
    "literature (2024 validation), 28-item full scale (Bremner 2014 instructions)"
)
ALDRETE_1995: Final = "Modified Aldrete score: Aldrete & Kroulik 1970; Aldrete 1995 revision"

FEDER_2014: Final = "Feder et al. 2014, JAMA Psychiatry 71(6):681-688"
FEDER_2021: Final = "Feder et al. 2021, Am J Psychiatry 178(2):193-202"
MURROUGH_2013: Final = "Murrough et al. 2013, Biol Psychiatry 74(4):250-256"
FAVA_2018: Final = "Fava et al. 2018/2020, Mol Psychiatry (0.1-1.0 mg/kg dose-ranging)"
ABDALLAH_2022: Final = "Abdallah et al. 2022, Neuropsychopharmacology (0.2 and 0.5 mg/kg)"
ALBOTT_2018: Final = "Albott et al. 2018, J Clin Psychiatry (6 infusions Mon-Wed-Fri)"
ELEKT_D_2023: Final = "ELEKT-D, Anand et al. 2023, NEJM (twice weekly x 3 weeks)"
ASKP_2018: Final = "ASKP Basics of Administration 2018 (0.5-1 mg/kg over 40-60 min)"
KETAMINE_LABEL: Final = "Ketamine HCl injection (Ketalar) prescribing information"
SPRAVATO_LABEL: Final = "Spravato (esketamine) prescribing information and REMS"
SANACORA_2017: Final = "Sanacora et al. 2017, JAMA Psychiatry 74(4):399-405"
YIP_2022: Final = "Yip et al. 2022, Front Psychiatry 13:1017504 (urgency vs emergency)"
ICU_TRIAL_NCT05803551: Final = "ICU ketamine trial NCT05803551 exclusion criteria"
ED_LOW_DOSE_PROTOCOL: Final = "ED low-dose ketamine protocol (clinical.md section 3)"
NEWS2_RCP_2017: Final = "NEWS2, Royal College of Physicians 2017 (National Early Warning Score 2)"
TRIAL_EXCLUSIONS_PSYCHOSIS: Final = "Trial exclusions: NCT02727998, NCT03960658, JADR 2023 Table 1"
JADR_2023: Final = "JADR 2023 trial exclusions (benzodiazepines >3 mg/day lorazepam-equivalent)"
WESTPORT_CLINIC: Final = "Clinic exclusion list, westportketamine.com [SECONDARY]"
VA_DOD_PTSD_CPG_2023: Final = "VA/DoD PTSD Clinical Practice Guideline 2023 (Ann Intern Med 2024)"
TRD_DEFINITION: Final = (
    "TRD = >=2 adequate antidepressant trials: Fava 2018, ELEKT-D 2023, ATHF-SF2"
)
ADEQUACY_RECALLED: Final = (
    "Adequate dose/duration: clinical.md section 3 [RECALLED, unverified - clinic must set]"
)
FDA_LABEL_DOSES: Final = "FDA prescribing information, usual effective dose [RECALLED, unverified]"
DEVINE_1974: Final = "Devine 1974, Drug Intell Clin Pharm 8:650-655 (ideal body weight)"
ADJUSTED_BW: Final = (
    "Adjusted body weight IBW + 0.4 x (actual - IBW): Pai & Paloucek 2000, Ann Pharmacother "
    "34:1066-1069 [RECALLED, unverified]"
)
CANADIAN_KETAMINE_ECT_PROTOCOL: Final = (
    "Canadian ketamine-vs-ECT trial protocol, PMC7265624 (booster taper, step back on relapse)"
)
SEVERE_HYPOXAEMIA_RECALLED: Final = (
    "Severe hypoxaemia SpO2 < 85% (sedation adverse-event definitions; clinical safety review, "
    "issue 10) [RECALLED, unverified]"
)
BP_RISE_FROM_BASELINE: Final = (
    "Rise from baseline: SOPs pause at 20-30% above baseline (clinical.md s. 4.2) "
    "[RECALLED, unverified]; transient infusion rises (Riva-Posse 2018; Vankawala 2021, "
    "Front Psychiatry) are urgency, not emergency, without end-organ symptoms (Yip 2022)"
)
CLINIC_POLICY: Final = "Clinic policy default (no published value; medical director to review)"
CLINIC_SCOPE: Final = "KetaFlow clinic scope: protocol defined for PTSD and depression only"
ENTRY_GUARD: Final = "Entry-error guard (not a clinical limit): beyond any real adult value"

# Eligibility rules, second pass (issue 10, items 1-6)
ICD10CM_2025: Final = "ICD-10-CM 2025 tabular list (CMS/NCHS, FY2025), chapter 5 (F01-F99)"
SPRAVATO_REMS_FORM: Final = (
    "Spravato REMS Patient Monitoring Form (concomitant benzodiazepines, non-benzodiazepine "
    "sedative-hypnotics, psychostimulants, MAOIs; clinical.md s. 2.3)"
)
BRAND_NAMES_FDA: Final = (
    "Brand and generic names: FDA Orange Book / DailyMed labels [RECALLED, unverified]"
)
ASHTON_BENZODIAZEPINE_EQUIVALENTS: Final = (
    "Benzodiazepine equivalents: Ashton, Benzodiazepines: How They Work and How to Withdraw "
    "(2002), approximate oral equivalents to diazepam 10 mg = lorazepam 1 mg "
    "[RECALLED, unverified]"
)
NALTREXONE_WILLIAMS_2018: Final = (
    "Williams et al. 2018, Am J Psychiatry 175:1205-1215 (naltrexone attenuated ketamine's "
    "antidepressant effect; Yoon et al. 2019 found no attenuation) [RECALLED, unverified]"
)
CSSRS_NOT_DONE: Final = (
    "Spravato label warning (suicidal thoughts and behaviours); C-SSRS screener, Posner et al. "
    "2011: an unscreened risk is unknown, not low (this module's rule)"
)
