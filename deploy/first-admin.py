"""The first account of a new installation: the network administrator, who then adds the clinic
and its medical director in the administration (docs/deploy.md, "The first login").

    sudo ketaflow manage shell < /opt/ketaflow/deploy/first-admin.py

Asks for the password on the terminal (KETAFLOW_ADMIN_USERNAME names the account, default
``network``; KETAFLOW_ADMIN_PASSWORD gives the password without asking, for scripts). Refused
once any network administrator exists. The account is written with its audit entry in one
transaction (the network chain); the second factor is enrolled at the first login.
"""

import getpass
import os
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record


def first_admin() -> int:
    username = os.environ.get("KETAFLOW_ADMIN_USERNAME", "network").strip()
    if User.objects.filter(role=Role.NETWORK_ADMIN).exists():
        print("first-admin: a network administrator exists already; nothing changed")
        return 0
    password = os.environ.get("KETAFLOW_ADMIN_PASSWORD") or getpass.getpass(
        f"Password for the network administrator {username!r} (12+ characters): "
    )
    user = User(username=username, role=Role.NETWORK_ADMIN)
    try:
        validate_password(password, user)
        with transaction.atomic():
            user.set_password(password)
            user.full_clean(exclude=["password"])
            user.save()
            audit_record(
                actor=Actor.system("install"),
                action=Action.CREATE,
                object_type="accounts.user",
                object_id=user.pk,
                summary=f"installation: added the network administrator {username}",
                clinic=None,
            )
    except ValidationError as exc:
        print(f"first-admin: refused: {'; '.join(exc.messages)}", file=sys.stderr)
        return 2
    print(f"first-admin: {username} may now log in and set up the second factor")
    return 0


status = first_admin()
if status:
    sys.exit(status)
