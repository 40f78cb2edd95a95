"""Subcommands of ``ketaflow`` for the web app: serve, demo, audit verify and checkpoint,
manage."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
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


def proxy_options(trusted_proxy: str) -> dict[str, Any]:
    """Waitress's options for a reverse proxy at ``trusted_proxy`` (none when "").

    Only a request from that address may set the client's address (the last hop of
    X-Forwarded-For, the one the proxy appended) and the scheme (X-Forwarded-Proto); from any other
    peer waitress removes those headers. So Django sees the real client in ``REMOTE_ADDR`` and
    ``https`` in ``wsgi.url_scheme``: CSRF accepts the HTTPS login, HSTS is sent, the HTTPS
    redirect does not loop and the audit records the client's address."""
    if not trusted_proxy:
        return {"clear_untrusted_proxy_headers": True}
    return {
        "trusted_proxy": trusted_proxy,
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
        "clear_untrusted_proxy_headers": True,
        "log_untrusted_proxy_headers": True,
    }


def static_sources_digest() -> str:
    """A SHA-256 over every static file collectstatic would copy (name and content) and the storage
    settings that shape what it writes."""
    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    for setting in ("STORAGES", "WHITENOISE_KEEP_ONLY_HASHED_FILES"):
        digest.update(repr(getattr(settings, setting, None)).encode())
    digest.update(repr(getattr(settings, "WHITENOISE_SKIP_COMPRESS_EXTENSIONS", None)).encode())
    files: dict[str, bytes] = {}
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            name = os.path.join(getattr(storage, "prefix", None) or "", path)
            if name in files:  # collectstatic keeps the first finder's file of a name
                continue
            with storage.open(path) as handle:
                files[name] = hashlib.sha256(handle.read()).digest()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    return digest.hexdigest()


def collect_static() -> bool:
    """Collect (hash and compress) the static files unless the last collect was of the same sources;
    True when it collected. Compressing takes tens of seconds; a restart of an unchanged install
    should not wait for it."""
    from django.conf import settings
    from django.core.management import call_command

    if settings.STATIC_ROOT is None:
        raise CliError("configuration: STATIC_ROOT is not set (production collects static files)")
    stamp = Path(settings.VAR_DIR) / "static.sources.sha256"
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    current = static_sources_digest()
    if manifest.exists() and stamp.exists() and stamp.read_text().strip() == current:
        return False
    stamp.unlink(missing_ok=True)
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(current + "\n")
    return True


def cmd_serve(args: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings

    if not args.no_migrate:
        _migrate()
    if settings.PRODUCTION:
        collect_static()
    from waitress import serve

    from ketaflow.wsgi import application

    url = f"http://{args.host}:{args.port}/"
    behind = f"; behind the proxy at {settings.TRUSTED_PROXY}" if settings.TRUSTED_PROXY else ""
    print(f"KetaFlow is serving on {url}  (mode: {settings.ENV}{behind}; Ctrl-C stops)", flush=True)
    try:
        serve(
            application,
            host=args.host,
            port=args.port,
            threads=args.threads,
            _quiet=True,
            **proxy_options(settings.TRUSTED_PROXY),
        )
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings

    if settings.PRODUCTION:
        # Refused before the migration: a production database is left exactly as it was.
        raise CliError("the demo clinic is not loaded in production mode")
    _migrate()
    from ketaflow.web.demo import demo_load

    result = demo_load()
    if result.created_users or result.created_patients:
        print(
            f"Demo clinic loaded: {result.created_patients} patients and "
            f"{result.created_users} accounts created."
        )
    else:
        print("Demo clinic already loaded: nothing added.")
    port = os.environ.get("PORT", "8000")
    # The count said is the count listed (issue 14 item 11).
    print(f"Log in at http://127.0.0.1:{port}/login/ as one of these {len(result.logins)} logins:")
    clinic = None
    for login in result.logins:
        if login.clinic != clinic:
            clinic = login.clinic
            print(f"{clinic}:")
        print(
            f"  {login.role:<22} username {login.username:<17} password {login.password}"
            f"  TOTP secret {login.totp_secret}"
        )
    print(
        "Each login also enters a code from an authenticator app set up with its TOTP secret "
        "(or: .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\")."
    )
    return 0


def checkpoint_file(given: str | None) -> Path | None:
    """The checkpoint file to verify against: ``--checkpoints FILE`` (which must exist), else
    the configured file when it exists, else none."""
    from ketaflow.audit.checkpoints import configured_file

    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise CliError(f"--checkpoints: no checkpoint file at {path}")
        return path
    configured = configured_file()
    return configured if configured is not None and configured.is_file() else None


def add_checkpoints_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoints",
        metavar="FILE",
        default=None,
        help="signed checkpoints to check the chain against (default: KETAFLOW_CHECKPOINT_FILE "
        "when it exists)",
    )


def warn_missing_triggers() -> None:
    """Name every append-only table whose triggers are gone (a warning: the chains and their
    checkpoints, not the triggers, are the evidence)."""
    from django.db import connection

    from ketaflow.audit.db import missing_triggers

    for problem in missing_triggers(connection):
        print(f"WARNING: {problem}: the table is not append-only", file=sys.stderr)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.accounts.models import Clinic
    from ketaflow.audit.checkpoints import audit_chain_name, checkpoints_verify
    from ketaflow.audit.services import audit_verify, audit_verify_all
    from ketaflow.infusions.lock import locked_notes_verify

    path = checkpoint_file(args.checkpoints)
    warn_missing_triggers()
    if args.clinic is not None:
        clinic = Clinic.objects.filter(slug=args.clinic).first()
        if clinic is None:
            raise CliError(f"--clinic: no clinic with the slug {args.clinic!r}")
        results = [audit_verify(clinic=clinic)]
        chain = audit_chain_name(f"clinic:{clinic.pk}")
    else:
        results = audit_verify_all()
        chain = "audit"
    problems = [p.message for p in checkpoints_verify(path, chain=chain)] if path else []
    problems += locked_notes_verify()
    against = f"checkpoints in {path} match" if path else "no checkpoint file"
    for result in results:
        if result.ok:
            print(result.message)
        else:
            print(
                f"AUDIT CHAIN BROKEN: {result.message} ({result.checked} entries read)",
                file=sys.stderr,
            )
    for problem in problems:
        print(f"TAMPERING: {problem}", file=sys.stderr)
    if all(r.ok for r in results) and not problems:
        print(against)
        return 0
    return 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    _setup_django()
    from ketaflow.audit.checkpoints import checkpoint_write, configured_file

    path = Path(args.file) if args.file else configured_file()
    if path is None:
        raise CliError("no checkpoint file: set KETAFLOW_CHECKPOINT_FILE or give --file")
    try:
        written = checkpoint_write(path)
    except OSError as exc:
        raise CliError(f"cannot write the checkpoint file {path}: {exc.strerror}") from None
    for checkpoint in written:
        print(f"checkpointed the {checkpoint.chain} chain at #{checkpoint.seq} in {path}")
    return 0


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
        "one line, each chain against its signed checkpoints, and every signed infusion note "
        "against the hash taken when it was locked. Exit 0 when all is intact; exit 1 naming "
        "each broken chain and its first entry altered, inserted or deleted, entries deleted "
        "or rewritten after a checkpoint, and each changed note.",
    )
    verify.add_argument(
        "--clinic", metavar="SLUG", help="verify only this clinic's chain (its slug)"
    )
    add_checkpoints_argument(verify)
    verify.set_defaults(handler=cmd_audit_verify)
    checkpoint = audit_sub.add_parser(
        "checkpoint",
        help="sign every chain's head into the checkpoint file now",
        description="Append one signed line per hash chain (audit trail, ledger) to the "
        "checkpoint file: its head's sequence number and hash, and the time. The worker does "
        "this on every pass where a head moved.",
    )
    checkpoint.add_argument(
        "--file", default=None, help="default: KETAFLOW_CHECKPOINT_FILE (var/checkpoints.log)"
    )
    checkpoint.set_defaults(handler=cmd_audit_checkpoint)

    manage = subparsers.add_parser(
        "manage",
        help="run a Django management command",
        description="Run a Django management command, e.g. `ketaflow manage createsuperuser`.",
    )
    manage.add_argument("django_args", nargs=argparse.REMAINDER)
    manage.set_defaults(handler=cmd_manage)
