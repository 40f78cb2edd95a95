"""A clinic's portal settings (an unsaved default row when the clinic has none)."""

from __future__ import annotations

from ketaflow.portal.models import PortalSettings
from ketaflow.prepared import Prepared

# One clinic's settings (every portal page), compiled once per process (ketaflow.prepared).
_SETTINGS = Prepared(
    lambda clinic_id: PortalSettings.objects.filter(clinic_id=clinic_id).order_by()[:1]
)


def portal_settings(clinic_id: int) -> PortalSettings:
    found = _SETTINGS.first(clinic_id=clinic_id)
    if found is not None:
        return found
    return PortalSettings(clinic_id=clinic_id)  # the clinic is read only if asked for
