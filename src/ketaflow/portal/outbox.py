"""The email outbox: rows written in the caller's transaction, sent later by the worker.

Bodies are fixed texts with a link to the portal or the staff task list: never a name, a score
or an answer (HIPAA transmission security; comparable-software.md: no PHI in email). A failed
send is retried with exponential backoff (base and cap in settings) and logged; nothing is
dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ketaflow.portal.models import EmailOutbox

log = logging.getLogger("ketaflow.portal.outbox")

REMINDER_SUBJECT = "KetaFlow: a questionnaire is waiting"
REMINDER_BODY = (
    "You have a questionnaire waiting in the KetaFlow portal.\n\n"
    "Sign in to answer it: {url}\n\n"
    "If you are in crisis, call or text 988, or call 911 in an emergency.\n"
)
URGENT_SUBJECT = "KetaFlow: an urgent task is waiting"
URGENT_BODY = (
    "An urgent task is waiting for a clinician in KetaFlow.\n\n"
    "Sign in to review and acknowledge it: {url}\n"
)
INVITATION_SUBJECT = "KetaFlow: your patient portal invitation"
INVITATION_BODY = (
    "Your clinic has invited you to the KetaFlow patient portal.\n\n"
    "Open this link to set your password and sign-in code (it expires in {hours} hours and "
    "works once): {url}\n"
)


def absolute(path: str) -> str:
    base: str = settings.PORTAL_BASE_URL
    return base + path


def enqueue(*, kind: str, to: str, subject: str, body: str) -> EmailOutbox:
    """Add an email to the outbox (in the caller's transaction)."""
    row = EmailOutbox(kind=kind, to=to, subject=subject, body=body, next_attempt_at=timezone.now())
    row.full_clean()
    row.save()
    return row


def enqueue_reminder(to: str) -> EmailOutbox:
    return enqueue(
        kind=EmailOutbox.Kind.REMINDER,
        to=to,
        subject=REMINDER_SUBJECT,
        body=REMINDER_BODY.format(url=absolute(reverse("portal_home"))),
    )


def enqueue_urgent(to: str) -> EmailOutbox:
    return enqueue(
        kind=EmailOutbox.Kind.URGENT,
        to=to,
        subject=URGENT_SUBJECT,
        body=URGENT_BODY.format(url=absolute(reverse("urgent_task_list"))),
    )


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failures: base x 2^(n-1), capped."""
    base: int = settings.OUTBOX_RETRY_BASE_SECONDS
    cap: int = settings.OUTBOX_RETRY_MAX_SECONDS
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class SendResult:
    sent: int
    failed: int


def outbox_send(*, now: dt.datetime | None = None, limit: int = 100) -> SendResult:
    """Send the pending emails whose time has come; mark each sent, or schedule a retry."""
    now = now or timezone.now()
    sent = failed = 0
    ids = list(
        EmailOutbox.objects.filter(
            status=EmailOutbox.Status.PENDING, next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        with transaction.atomic():
            row = (
                EmailOutbox.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=EmailOutbox.Status.PENDING)
                .first()
            )
            if row is None:
                continue
            try:
                EmailMessage(
                    subject=row.subject,
                    body=row.body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[row.to],
                ).send(fail_silently=False)
            except Exception as exc:  # any backend failure: keep the row and retry later
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:300]
                row.next_attempt_at = now + backoff(row.attempts)
                row.save(update_fields=["attempts", "last_error", "next_attempt_at"])
                failed += 1
                log.warning(
                    "outbox: %s email #%s failed (attempt %s), retry at %s: %s",
                    row.kind,
                    row.pk,
                    row.attempts,
                    row.next_attempt_at.isoformat(),
                    row.last_error,
                )
                continue
            row.attempts += 1
            row.status = EmailOutbox.Status.SENT
            row.sent_at = now
            row.last_error = ""
            row.save(update_fields=["attempts", "status", "sent_at", "last_error"])
            sent += 1
    return SendResult(sent=sent, failed=failed)
