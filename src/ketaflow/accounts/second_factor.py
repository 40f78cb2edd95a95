"""The second factor of every login, staff and patient, on django-otp: a TOTP authenticator
(RFC 6238: 30-second steps, 6 digits, one step of drift either way) and, for staff, ten
single-use recovery codes.

Every code check counts against the guessing limits (``ketaflow.accounts.signin``: the account
and the address, kept in the database, so a new password login does not reset them) and is
audited; django-otp's own throttle adds a growing delay after each wrong code. Enrolment, a
replacement and a director's reset each write their audit entry in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import contextlib

import pyotp
from django.apps import apps
from django.contrib.auth import middleware as auth_middleware
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django_otp import login as otp_login
from django_otp import middleware
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.accounts.signin import LockedOut, check_allowed, count_failure, is_locked_request
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import audit_record
from ketaflow.prepared import Prepared

Action = AuditEntry.Action

ISSUER = "KetaFlow"
STEP_SECONDS = 30
DIGITS = 6
TOLERANCE = 1  # the previous and next step too (clock drift, RFC 6238 s. 5.2)
RECOVERY_CODES = 10
DEVICE_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


def new_secret() -> str:
    """A new base32 secret (what an authenticator app is given)."""
    return pyotp.random_base32()


def key_hex(secret: str) -> str:
    """django-otp's hex key of a base32 secret."""
    return binascii.hexlify(base64.b32decode(secret.upper(), casefold=True)).decode()


def secret_of(device: TOTPDevice) -> str:
    """The base32 secret of a device (the demo prints it)."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def _clean(code: str) -> str:
    return code.strip().replace(" ", "").replace("-", "")


def code_matches(secret: str, code: str) -> int | None:
    """The time step at which ``code`` is valid for a secret not yet enrolled, else None."""
    token = _clean(code)
    if not (len(token) == DIGITS and token.isdigit()):
        return None
    totp = TOTP(base64.b32decode(secret.upper(), casefold=True), STEP_SECONDS, 0, DIGITS)
    if bool(totp.verify(int(token), TOLERANCE)):
        return int(totp.t())
    return None


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enrolled_device(user: User) -> TOTPDevice:
    """The confirmed device of ``user``, who has just enrolled one (DoesNotExist otherwise)."""
    return TOTPDevice.objects.get(user=user, confirmed=True)


def has_second_factor(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def recovery_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def _patient_id(user: User) -> int | None:
    from ketaflow.patients.models import Patient

    if not user.may(Perm.VIEW_OWN_RECORD):
        return None
    return Patient.objects.filter(user=user).values_list("pk", flat=True).first()


def enrol_totp(*, user: User, secret: str, last_t: int) -> TOTPDevice:
    """Replace ``user``'s authenticator with ``secret`` (no audit entry: the caller writes it
    in its transaction)."""
    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(
        user=user,
        name=DEVICE_NAME,
        key=key_hex(secret),
        step=STEP_SECONDS,
        digits=DIGITS,
        tolerance=TOLERANCE,
        confirmed=True,
        last_t=last_t,
    )


def new_recovery_codes(user: User) -> list[str]:
    """Replace ``user``'s recovery codes with ten new single-use ones (shown once)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


@transaction.atomic
def staff_enrol(*, actor: Actor, user: User, secret: str, code: str) -> list[str]:
    """Enrol (or replace) a staff member's authenticator after checking a code from it, and
    issue new recovery codes. Raises ValueError when the code does not match."""
    step = code_matches(secret, code)
    if step is None:
        raise ValueError("That code does not match: enter the current 6 digits from the app.")
    replaced = has_second_factor(user)
    enrol_totp(user=user, secret=secret, last_t=step)
    codes = new_recovery_codes(user)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="second_factor",
        object_id=user.pk,
        summary=(
            "replaced own authenticator and recovery codes"
            if replaced
            else "enrolled an authenticator and recovery codes"
        ),
    )
    return codes


@transaction.atomic
def recovery_codes_replace(*, actor: Actor, user: User) -> list[str]:
    codes = new_recovery_codes(user)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="second_factor",
        object_id=user.pk,
        summary="replaced own recovery codes",
    )
    return codes


@transaction.atomic
def second_factor_reset(*, actor: Actor, target: User) -> None:
    """A director's reset of a staff member's second factor: both are removed, so the next
    login enrols anew. The caller has checked that ``target`` is of the director's clinic."""
    TOTPDevice.objects.filter(user=target).delete()
    StaticDevice.objects.filter(user=target).delete()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="second_factor",
        object_id=target.pk,
        summary=f"reset the second factor of {target.username}",
        clinic=target.clinic_id,
    )


def _check(user: User, code: str, *, recovery: bool) -> Device | None:
    token = _clean(code)
    device = totp_device(user)
    if device is not None and token.isdigit() and len(token) == DIGITS:
        with transaction.atomic():
            locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            if locked.verify_token(token):
                return locked
    if recovery and token:
        for static in StaticDevice.objects.filter(user=user, confirmed=True):
            if static.verify_token(token.lower()):
                return static
    return None


def code_check(
    *, request: HttpRequest, user: User, code: str, purpose: str, recovery: bool = True
) -> Device | None:
    """Check a code (TOTP, or a recovery code when ``recovery``) for ``user``: refused while the
    account or address is locked out (``LockedOut``), counted when wrong, audited either way."""
    check_allowed(request, user.username)
    device = _check(user, code, recovery=recovery)
    if device is None:
        action, summary = Action.LOGIN_FAILED, f"second-factor code refused ({purpose})"
    else:
        used = "recovery code" if isinstance(device, StaticDevice) else "authenticator code"
        action, summary = Action.LOGIN, f"second factor verified with an {used} ({purpose})"
    audit_record(
        actor=Actor(user=user, ip_address=Actor.from_request(request).ip_address),
        action=action,
        object_type="second_factor",
        object_id=user.pk,
        patient_id=_patient_id(user),
        summary=summary,
    )
    if device is None:
        count_failure(request, user.username)
        if is_locked_request(request):
            raise LockedOut  # this failure reached the limit
    return device


def second_factor_login(request: HttpRequest, device: Device) -> None:
    """Mark the session as having passed the second factor (django-otp), on a new session key."""
    request.session.cycle_key()
    otp_login(request, device)


_DEVICE_READS: dict[type[Device], Prepared[Device]] = {}


def _device_read(device_cls: type[Device]) -> Prepared[Device]:
    if device_cls not in _DEVICE_READS:
        _DEVICE_READS[device_cls] = Prepared(
            lambda pk: device_cls.objects.filter(id=pk).order_by("pk")[:1]
        )
    return _DEVICE_READS[device_cls]


# django-otp ships no type information: its class is Any to mypy, which refuses a subclass of
# Any (the same as the django-axes backend's subclass in accounts/backends.py).
class OTPMiddleware(middleware.OTPMiddleware):  # type: ignore[misc]
    """django-otp's middleware (``request.user.otp_device``, ``is_verified()``), the device the
    session names read with a statement compiled once per process: it is read on every request
    of a logged-in person (issue 16). What it reads is django-otp's ``Device.from_persistent_id``
    without ``for_verify``: the device class the id names, by its key; an id that names no
    device class is no device.

    ``request.user`` is the person itself, verified at once, not django-otp's lazy wrapper
    around Django's lazy wrapper: every attribute a page read of the user went through both
    (about 140 reads a page, 0.5-1 ms of a request; issue 16). Nothing is read earlier than
    before: the clinic's clock (``ClinicTimeMiddleware``, above this one) has read the user
    already, and the device is read only for a session that names one, as django-otp does."""

    async_capable = False  # the app runs under WSGI (gunicorn, waitress)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if getattr(request, "user", None) is not None:
            request.user = self._verify_user_sync(request, auth_middleware.get_user(request))
        response: HttpResponse = self.get_response(request)
        return response

    def _device_from_persistent_id(self, persistent_id: str) -> Device | None:
        persistent_id = self._normalize_persistent_id(persistent_id)
        with contextlib.suppress(ValueError, LookupError):
            model_label, device_id = persistent_id.rsplit("/", 1)
            app_label, model_name = model_label.split(".")
            device_cls = apps.get_model(app_label, model_name)
            if issubclass(device_cls, Device):
                return _device_read(device_cls).first(pk=int(device_id))
        return None
