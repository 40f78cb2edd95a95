"""The infusion session: pre-infusion checklist, dose and vial, pump events, vitals with alerts,
side effects, dissociation and recovery scores, discharge, sign-off and addenda."""
