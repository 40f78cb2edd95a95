#!/usr/bin/env bash
# Runs the database-backed tests (tests/web, tests/ledger, tests/<app>) against a real PostgreSQL server
# started on loopback in a temporary directory, then stops it. Where no PostgreSQL server is
# installed it says so and exits 0 (CI always installs one: see .ci/run and
# scripts/system-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/postgres" ]; then
  echo "databases: SQLite only (no PostgreSQL server installed; run 'make system-deps' to add it)"
  exit 0
fi

tmp=$(mktemp -d /tmp/ketaflow-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root: run it as the postgres user Debian's package creates.
  chown postgres "$tmp"
  as_pg=(runuser -u postgres --)
fi
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap stop EXIT

"${as_pg[@]}" "$pgbin/initdb" -D "$tmp/data" -U ketaflow -A trust --no-sync -E UTF8 >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null
version=$("$pgbin/postgres" --version)
echo "databases: PostgreSQL ($version) on 127.0.0.1:$port"

# The default selection: every database-touching test (tests/ without the pure clinical and PK
# cores, which import no Django, and without the deployment tests, which bring their own
# PostgreSQL or SQLite; a new app's tests/<app>/ folder is included without editing this line),
# but not
#  - the browser tests (mark "browser"): they test the pages in Chromium; the queries behind
#    those pages run on PostgreSQL in the non-browser tests of the same pages;
#  - the tests that start their own app on their own SQLite file (mark "sqlite_only", e.g.
#    test_proxy.py, the CLI's and settings' production checks): they never touch this database;
#  - the sweeps (mark "sweep": the isolation, outsider and audit-read sweeps visit every page as
#    every role, about nine CPU minutes here), but for the director's staff sweep (mark
#    "pg_sweep"), which renders every staff page on PostgreSQL's queries.
# All of them run in the SQLite run of `make test` (docs/testing.md). Arguments, if any, replace
# the whole default selection, marks included (e.g. one file: tests/accounts/test_signin.py).
if [ "$#" -eq 0 ]; then
  set -- tests --ignore=tests/clinical --ignore=tests/pk --ignore=tests/deploy \
    -m "not browser and not sqlite_only and (not sweep or pg_sweep)"
fi
DATABASE_URL="postgres://ketaflow@127.0.0.1:$port/postgres" \
  .venv/bin/python -m pytest "$@" -p no:cacheprovider -n 2 --dist loadgroup -q --durations 15
