"""The one check of whether a member of staff may perform a clinical act today.

Later capabilities (sign a candidacy decision, order or administer an infusion, witness a waste)
call :func:`credential_check` and refuse when ``ok`` is false, showing ``problems``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ketaflow.accounts.models import Credential, User
from ketaflow.accounts.roles import Perm


class ClinicalAct(enum.StrEnum):
    SIGN = "sign"  # sign a candidacy decision or a note
    ORDER = "order"  # order a controlled substance (ketamine is Schedule III)
    ADMINISTER = "administer"  # start and run an infusion
    WITNESS = "witness"  # witness a controlled-substance waste


# The permission each act needs, and the credentials that must be current.
# Licence: state licensure is required to practise (all acts).
# DEA registration: required to order or prescribe a Schedule III substance (21 CFR 1301.11).
# ACLS or BLS: clinic policy for anyone monitoring a sedated patient; ACLS for ordering and
# administering is a common clinic standard (Sanacora et al. 2017 ask for a clinician able to
# manage airway and cardiovascular events; see docs/reference/clinical.md section 2.1).
ACT_PERM: dict[ClinicalAct, Perm] = {
    ClinicalAct.SIGN: Perm.SIGN_CANDIDACY,
    ClinicalAct.ORDER: Perm.ORDER_INFUSION,
    ClinicalAct.ADMINISTER: Perm.ADMINISTER,
    ClinicalAct.WITNESS: Perm.WITNESS_WASTE,
}
_ACT_CREDENTIALS: dict[ClinicalAct, tuple[frozenset[str], ...]] = {
    # Each inner set is "one of these kinds must be current".
    ClinicalAct.SIGN: (frozenset({Credential.Kind.LICENCE}),),
    ClinicalAct.ORDER: (frozenset({Credential.Kind.LICENCE}), frozenset({Credential.Kind.DEA})),
    ClinicalAct.ADMINISTER: (
        frozenset({Credential.Kind.LICENCE}),
        frozenset({Credential.Kind.ACLS, Credential.Kind.BLS}),
    ),
    ClinicalAct.WITNESS: (frozenset({Credential.Kind.LICENCE}),),
}


@dataclass(frozen=True)
class CredentialCheck:
    act: ClinicalAct
    ok: bool
    problems: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.ok


def credential_check(
    user: User, act: ClinicalAct, *, on: dt.date, credentials: Sequence[Credential] | None = None
) -> CredentialCheck:
    """Whether ``user`` may perform ``act`` on the date ``on``: role and current credentials
    (``credentials``: the user's, when the caller has read them already)."""
    problems: list[str] = []
    if not user.is_active:
        problems.append("the account is inactive")
    if not user.may(ACT_PERM[act]):
        problems.append(f"the role {user.role_enum.label} may not {act.value}")
    creds = list(user.credentials.all()) if credentials is None else list(credentials)
    for kinds in _ACT_CREDENTIALS[act]:
        current = [c for c in creds if c.kind in kinds and c.is_current(on)]
        if current:
            continue
        names = " or ".join(sorted(Credential.Kind(k).label for k in kinds))
        lapsed = [c for c in creds if c.kind in kinds]
        if lapsed:
            latest = max(c.expires_on for c in lapsed)
            problems.append(f"{names} expired on {latest.isoformat()}")
        else:
            problems.append(f"no {names} on record")
    return CredentialCheck(act=act, ok=not problems, problems=tuple(problems))
