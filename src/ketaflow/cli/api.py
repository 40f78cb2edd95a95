"""``ketaflow api token create|list|revoke``: the operator's API tokens.

``create`` prints the token alone on standard output, once (only its digest is stored), so that
``TOKEN=$(ketaflow api token create --user nurse --scope patients:read)`` keeps it; what it may
do and until when goes to standard error."""

from __future__ import annotations

import argparse
import sys

from ketaflow.cli.common import CliError
from ketaflow.cli.web import _setup_django


def _days(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None


def cmd_create(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.exceptions import ValidationError

    from ketaflow.accounts.models import User
    from ketaflow.api.services import token_create
    from ketaflow.audit.context import Actor

    user = User.objects.filter(username=args.user).first()
    if user is None:
        raise CliError(f"--user: no user named {args.user!r}")
    try:
        created = token_create(
            actor=Actor.system("ketaflow api token create"),
            user=user,
            scopes=args.scope,
            name=args.name,
            days=args.days,
        )
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        flag = {"scope": "--scope", "days": "--days", "name": "--name", "user": "--user"}
        raise CliError(f"{flag.get(field, field)}: {' '.join(errors)}") from None
    token = created.record
    print(created.token)
    print(
        f"API token {token.prefix} for {user.username} ({token.clinic.slug}): "
        f"{', '.join(token.scopes)}; expires {token.expires_at:%Y-%m-%d %H:%M} UTC. "
        "Shown once: keep it now.",
        file=sys.stderr,
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    _setup_django()
    from django.utils import timezone

    from ketaflow.api.models import ApiToken

    tokens = ApiToken.objects.select_related("user", "clinic").order_by("clinic__slug", "pk")
    if args.user:
        tokens = tokens.filter(user__username=args.user)
    if args.clinic:
        tokens = tokens.filter(clinic__slug=args.clinic)
    now = timezone.now()
    for t in tokens:
        state = "revoked" if t.revoked_at else "expired" if t.is_expired(now) else "active"
        print(
            f"{t.prefix}  {t.clinic.slug}  {t.user.username}  {state}  "
            f"expires {t.expires_at:%Y-%m-%d}  {','.join(t.scopes)}  {t.name}"
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.api.models import ApiToken
    from ketaflow.api.services import token_revoke
    from ketaflow.audit.context import Actor

    token = ApiToken.objects.filter(prefix=args.prefix).first()
    if token is None:
        raise CliError(f"no API token {args.prefix!r} (see ketaflow api token list)")
    token_revoke(actor=Actor.system("ketaflow api token revoke"), token=token)
    print(f"API token {token.prefix} revoked")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = subparsers.add_parser("api", help="the REST API's tokens")
    groups = api.add_subparsers(dest="api_command", metavar="SUBCOMMAND", required=True)
    token = groups.add_parser("token", help="create, list and revoke API tokens")
    actions = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create", help="create a token for a member of a clinic's staff; prints it once"
    )
    create.add_argument("--user", required=True, help="the username the token acts as")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        help="resource:access, e.g. patients:read or vitals:write (repeat, or separate by commas)",
    )
    create.add_argument("--name", default="", help="what the token is for")
    create.add_argument("--days", type=_days, default=90, help="days until it expires (1-365)")
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="list tokens (prefix, clinic, owner, state)")
    listing.add_argument("--user", default="", help="only this user's")
    listing.add_argument("--clinic", default="", help="only this clinic's (slug)")
    listing.set_defaults(handler=cmd_list)

    revoke = actions.add_parser("revoke", help="revoke a token by its prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(handler=cmd_revoke)
