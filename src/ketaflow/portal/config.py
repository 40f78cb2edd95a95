"""A clinic's portal settings (an unsaved default row when the clinic has none)."""

from __future__ import annotations

from ketaflow.portal.models import PortalSettings


def portal_settings(clinic_id: int) -> PortalSettings:
    found = PortalSettings.objects.filter(clinic_id=clinic_id).first()
    if found is not None:
        return found
    return PortalSettings(clinic_id=clinic_id)  # the clinic is read only if asked for
