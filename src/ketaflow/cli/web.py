"""Subcommands of ``ketaflow`` for the web app: serve, demo, audit verify, manage."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ketaflow.cli.common import CliError


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaflow.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise CliError(f"configuration: {exc}") from None


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65535, not {port}")
    return port


def cmd_serve(args: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings

    if not args.no_migrate:
        _migrate()
    if settings.PRODUCTION:
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)
    from waitress import serve

    from ketaflow.wsgi import application

    url = f"http://{args.host}:{args.port}/"
    print(f"KetaFlow is serving on {url}  (mode: {settings.ENV}; Ctrl-C stops)", flush=True)
    try:
        serve(application, host=args.host, port=args.port, threads=args.threads, _quiet=True)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _setup_django()
    _migrate()
    from ketaflow.web.demo import demo_load

    result = demo_load()
    if result.created_users or result.created_patients:
        print(
            f"Demo clinic loaded: {result.created_users} logins and "
            f"{result.created_patients} patients created."
        )
    else:
        print("Demo clinic already loaded: nothing added.")
    port = os.environ.get("PORT", "8000")
    print(f"Log in at http://127.0.0.1:{port}/login/ as one of:")
    clinic = None
    for login in result.logins:
        if login.clinic != clinic:
            clinic = login.clinic
            print(f"{clinic}:")
        print(f"  {login.role:<22} username {login.username:<17} password {login.password}")
    for login in result.logins:
        if login.totp_secret:
            print(
                f"{login.username} also enters a code from an authenticator app set up with the "
                f'secret {login.totp_secret} (or: .venv/bin/python -c "import pyotp; '
                f"print(pyotp.TOTP('{login.totp_secret}').now())\")."
            )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.accounts.models import Clinic
    from ketaflow.audit.services import audit_verify, audit_verify_all

    if args.clinic is not None:
        clinic = Clinic.objects.filter(slug=args.clinic).first()
        if clinic is None:
            raise CliError(f"--clinic: no clinic with the slug {args.clinic!r}")
        results = [audit_verify(clinic=clinic)]
    else:
        results = audit_verify_all()
    for result in results:
        if result.ok:
            print(result.message)
        else:
            print(
                f"AUDIT CHAIN BROKEN: {result.message} ({result.checked} entries read)",
                file=sys.stderr,
            )
    return 0 if all(r.ok for r in results) else 1


def cmd_manage(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["ketaflow manage", *args.django_args])
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the clinic app (migrates the database first)",
        description="Serve the clinic web app with waitress. Settings come from the environment "
        "(KETAFLOW_ENV, DATABASE_URL, KETAFLOW_SECRET_KEY, KETAFLOW_ALLOWED_HOSTS).",
    )
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument(
        "--port", type=_port, default=os.environ.get("PORT", "8000"), help="default: $PORT or 8000"
    )
    serve.add_argument("--threads", type=int, default=8)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations")
    serve.set_defaults(handler=cmd_serve)

    demo = subparsers.add_parser(
        "demo",
        help="create the database and load the demo clinic (once)",
        description="Apply migrations and load the demo clinic with one login per role. Running "
        "it again adds nothing. Refused in production mode.",
    )
    demo.set_defaults(handler=cmd_demo)

    audit = subparsers.add_parser("audit", help="the audit trail", description="The audit trail.")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="check the hash chain",
        description="Check the audit trail's hash chains (one per clinic, one for actions of "
        "no clinic, and the legacy chain of entries written before per-clinic chains), each on "
        "one line. Exit 0 when every chain is intact; exit 1 naming each broken chain and its "
        "first entry altered, inserted or deleted.",
    )
    verify.add_argument(
        "--clinic", metavar="SLUG", help="verify only this clinic's chain (its slug)"
    )
    verify.set_defaults(handler=cmd_audit_verify)

    manage = subparsers.add_parser(
        "manage",
        help="run a Django management command",
        description="Run a Django management command, e.g. `ketaflow manage createsuperuser`.",
    )
    manage.add_argument("django_args", nargs=argparse.REMAINDER)
    manage.set_defaults(handler=cmd_manage)
