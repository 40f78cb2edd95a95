"""Patients' authenticators move onto django-otp: each portal TOTP secret (base32) becomes an
otp_totp device with the same key (hex), so existing patients' apps keep working, and the last
accepted step carries over (a used code stays used)."""

import base64
import binascii
from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    Old = apps.get_model("portal", "TotpDevice")
    New = apps.get_model("otp_totp", "TOTPDevice")
    for old in Old.objects.all():
        key = binascii.hexlify(base64.b32decode(old.secret.upper(), casefold=True)).decode()
        New.objects.filter(user_id=old.user_id).delete()
        New.objects.create(
            user_id=old.user_id,
            name="Authenticator app",
            key=key,
            step=30,
            t0=0,
            digits=6,
            tolerance=1,
            drift=0,
            last_t=old.last_step if old.last_step else -1,
            confirmed=True,
        )


def backwards(apps: Any, schema_editor: Any) -> None:
    Old = apps.get_model("portal", "TotpDevice")
    New = apps.get_model("otp_totp", "TOTPDevice")
    User = apps.get_model("accounts", "User")
    from django.utils import timezone

    for device in New.objects.filter(user__in=User.objects.filter(role="patient")):
        secret = base64.b32encode(binascii.unhexlify(device.key)).decode().rstrip("=")
        Old.objects.update_or_create(
            user_id=device.user_id,
            defaults={
                "secret": secret,
                "confirmed_at": timezone.now(),
                "last_step": max(device.last_t, 0),
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0003_urgent_task_kind_and_infusion_session"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.DeleteModel(
            name="TotpDevice",
        ),
    ]
