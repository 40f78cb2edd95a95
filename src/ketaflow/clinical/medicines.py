"""Medicines the eligibility and resistance rules recognise, by generic and brand name, as data.

A recorded medicine ("Xanax 0.5 mg", "zolpidem tartrate", "Adderall XR") is identified by its
words: the whole name, then each pair of words, then each word is looked up among the generic names
and the brand names below, case-insensitively. A brand name maps to its generic, so brand and
generic are one drug (:func:`generic_name`).

Sources:
- classes the rules use: Spravato REMS Patient Monitoring Form (concomitant benzodiazepines,
  non-benzodiazepine sedative-hypnotics, psychostimulants, MAOIs) [READ, clinical.md s. 2.3];
  JADR 2023 trial (benzodiazepines, opioids); NCT05803551 (lamotrigine, memantine, riluzole,
  lithium); naltrexone: Williams et al. 2018 (see :data:`sources.NALTREXONE_WILLIAMS_2018`);
- brand names: FDA Orange Book / DailyMed labels (:data:`sources.BRAND_NAMES_FDA`);
- lorazepam equivalents: Ashton manual (:data:`sources.ASHTON_BENZODIAZEPINE_EQUIVALENTS`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class MedicineClass(StrEnum):
    BENZODIAZEPINE = "benzodiazepine"
    SEDATIVE_HYPNOTIC = "sedative_hypnotic"  # Z-drugs and other non-benzodiazepine hypnotics
    STIMULANT = "stimulant"
    MAOI = "maoi"
    NMDA_ACTING = "nmda_acting"  # lamotrigine, memantine, riluzole, lithium
    OPIOID = "opioid"
    OPIOID_ANTAGONIST = "opioid_antagonist"  # naltrexone
    ANTIDEPRESSANT = "antidepressant"  # the drugs of the resistance tables, for their brands


_B, _S, _ST = MedicineClass.BENZODIAZEPINE, MedicineClass.SEDATIVE_HYPNOTIC, MedicineClass.STIMULANT
_M, _N, _O = MedicineClass.MAOI, MedicineClass.NMDA_ACTING, MedicineClass.OPIOID
_X, _A = MedicineClass.OPIOID_ANTAGONIST, MedicineClass.ANTIDEPRESSANT

# generic name -> (class, brand names). Brands: FDA Orange Book / DailyMed [RECALLED, unverified];
# a few UK/EU brands are listed where they are common.
MEDICINES: Final[Mapping[str, tuple[MedicineClass, tuple[str, ...]]]] = MappingProxyType(
    {
        # benzodiazepines (JADR 2023; Spravato REMS form)
        "alprazolam": (_B, ("xanax", "niravam")),
        "chlordiazepoxide": (_B, ("librium",)),
        "clobazam": (_B, ("onfi", "sympazan", "frisium")),
        "clonazepam": (_B, ("klonopin", "rivotril")),
        "clorazepate": (_B, ("tranxene",)),
        "diazepam": (_B, ("valium", "valtoco", "diastat")),
        "estazolam": (_B, ("prosom",)),
        "flurazepam": (_B, ("dalmane",)),
        "lorazepam": (_B, ("ativan", "loreev")),
        "midazolam": (_B, ("versed", "nayzilam")),
        "oxazepam": (_B, ("serax",)),
        "temazepam": (_B, ("restoril",)),
        "triazolam": (_B, ("halcion",)),
        # non-benzodiazepine sedative-hypnotics (Spravato REMS form): Z-drugs, orexin antagonists,
        # barbiturates
        "zolpidem": (_S, ("ambien", "edluar", "intermezzo", "stilnox")),
        "zaleplon": (_S, ("sonata",)),
        "eszopiclone": (_S, ("lunesta",)),
        "zopiclone": (_S, ("imovane", "zimovane")),
        "suvorexant": (_S, ("belsomra",)),
        "lemborexant": (_S, ("dayvigo",)),
        "daridorexant": (_S, ("quviviq",)),
        "phenobarbital": (_S, ("luminal",)),
        "butalbital": (_S, ("fioricet", "fiorinal")),
        # psychostimulants (Spravato REMS form and label: closer BP monitoring)
        "amphetamine": (_ST, ("adderall", "evekeo", "adzenys", "mydayis")),
        "dextroamphetamine": (_ST, ("dexedrine", "zenzedi", "procentra")),
        "lisdexamfetamine": (_ST, ("vyvanse", "elvanse")),
        "methylphenidate": (_ST, ("ritalin", "concerta", "methylin", "metadate", "quillivant")),
        "dexmethylphenidate": (_ST, ("focalin",)),
        "methamphetamine": (_ST, ("desoxyn",)),
        "modafinil": (_ST, ("provigil",)),
        "armodafinil": (_ST, ("nuvigil",)),
        # MAOIs (Spravato REMS form and label: closer BP monitoring)
        "phenelzine": (_M, ("nardil",)),
        "tranylcypromine": (_M, ("parnate",)),
        "isocarboxazid": (_M, ("marplan",)),
        "selegiline": (_M, ("emsam", "eldepryl", "zelapar")),
        "moclobemide": (_M, ("manerix", "aurorix")),
        # acting on NMDA / glutamate (NCT05803551 exclusion)
        "lamotrigine": (_N, ("lamictal",)),
        "memantine": (_N, ("namenda", "ebixa")),
        "riluzole": (_N, ("rilutek", "tiglutik", "exservan")),
        "lithium": (_N, ("lithobid", "eskalith", "priadel", "camcolit")),
        # opioids (JADR 2023)
        "morphine": (_O, ("ms contin", "kadian", "oramorph")),
        "oxycodone": (_O, ("oxycontin", "roxicodone", "percocet", "oxynorm")),
        "hydrocodone": (_O, ("vicodin", "norco", "hysingla", "zohydro")),
        "hydromorphone": (_O, ("dilaudid", "exalgo")),
        "fentanyl": (_O, ("duragesic", "actiq", "fentora", "sublimaze")),
        "methadone": (_O, ("dolophine", "methadose")),
        "buprenorphine": (_O, ("subutex", "suboxone", "sublocade", "zubsolv", "butrans")),
        "tramadol": (_O, ("ultram", "conzip")),
        "codeine": (_O, ("tylenol with codeine",)),
        "tapentadol": (_O, ("nucynta", "palexia")),
        # opioid antagonist (Williams 2018)
        "naltrexone": (_X, ("revia", "vivitrol", "depade")),
        # antidepressants of the resistance tables (brand and generic are one drug)
        "sertraline": (_A, ("zoloft", "lustral")),
        "paroxetine": (_A, ("paxil", "pexeva", "seroxat", "brisdelle")),
        "venlafaxine": (_A, ("effexor",)),
        "fluoxetine": (_A, ("prozac", "sarafem")),
        "citalopram": (_A, ("celexa", "cipramil")),
        "escitalopram": (_A, ("lexapro", "cipralex")),
        "duloxetine": (_A, ("cymbalta",)),
        "desvenlafaxine": (_A, ("pristiq",)),
        "bupropion": (_A, ("wellbutrin", "zyban", "aplenzin", "forfivo")),
        "mirtazapine": (_A, ("remeron", "zispin")),
    }
)

# mg of each benzodiazepine taken as equal to 1 mg lorazepam (oral), from the Ashton manual's
# equivalents to diazepam 10 mg (lorazepam 1 mg) [RECALLED, unverified]. Where the manual gives a
# range (estazolam 1-2 mg, flurazepam 15-30 mg), the lower amount is kept: it gives the higher
# lorazepam equivalent, the safer reading against the 3 mg/day limit. Midazolam has no oral
# equivalent there, so its dose cannot be converted (and the rule says so).
LORAZEPAM_EQUIVALENT_MG: Final[Mapping[str, float]] = MappingProxyType(
    {
        "alprazolam": 0.5,
        "chlordiazepoxide": 25.0,
        "clobazam": 20.0,
        "clonazepam": 0.5,
        "clorazepate": 15.0,
        "diazepam": 10.0,
        "estazolam": 1.0,
        "flurazepam": 15.0,
        "lorazepam": 1.0,
        "oxazepam": 20.0,
        "temazepam": 20.0,
        "triazolam": 0.5,
    }
)

_BRANDS: Final[Mapping[str, str]] = MappingProxyType(
    {brand: generic for generic, (_, brands) in MEDICINES.items() for brand in brands}
)


@dataclass(frozen=True)
class Medicine:
    """A recorded medicine recognised as a known drug."""

    recorded: str
    generic: str
    medicine_class: MedicineClass


def _words(name: str) -> list[str]:
    return re.findall(r"[a-z]+", name.lower())


def identify(name: str) -> Medicine | None:
    """The known drug a recorded name denotes (generic or brand, any case), or None."""
    words = _words(name)
    candidates = [" ".join(words)]
    candidates += [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    candidates += [" ".join(words[i : i + 2]) for i in range(len(words) - 1)]
    candidates += words
    for candidate in candidates:
        generic = candidate if candidate in MEDICINES else _BRANDS.get(candidate)
        if generic is not None:
            return Medicine(recorded=name, generic=generic, medicine_class=MEDICINES[generic][0])
    return None


def generic_name(name: str) -> str:
    """The generic name of a known drug, else the name itself in lower case without padding."""
    found = identify(name)
    return found.generic if found is not None else " ".join(name.lower().split())


def lorazepam_equivalent_mg(generic: str, dose_mg_per_day: float) -> float | None:
    """The daily dose as mg of lorazepam, or None if the drug has no equivalent in the table."""
    per_mg = LORAZEPAM_EQUIVALENT_MG.get(generic)
    return None if per_mg is None else dose_mg_per_day / per_mg
