# Sourced by deploy/install.sh (and its test): the systemd lines that tie KetaFlow's units to the
# database server. A PostgreSQL on this machine (no host, a Unix socket, localhost, 127.0.0.1, ::1)
# is required, so the app starts after it and stops with it; a database elsewhere (or SQLite) is
# not a unit here, and requiring postgresql.service would stop the app whenever the local package's
# unit is absent or stopped.
database_unit_lines() { # URL
  local url=$1 rest hostport host
  case "$url" in
    postgres://* | postgresql://*) ;;
    *)
      echo "# The database is not a PostgreSQL server on this machine: no database unit to require."
      return 0
      ;;
  esac
  rest=${url#*://}
  hostport=${rest%%/*}
  hostport=${hostport%%\?*}
  hostport=${hostport##*@}
  case "$hostport" in
    \[*\]*) host=${hostport%%]*}; host=${host#[} ;;
    *) host=${hostport%%:*} ;;
  esac
  case "$host" in
    "" | localhost | 127.0.0.1 | ::1 | %2F* | %2f*)
      printf '%s\n%s\n' "After=postgresql.service" "Requires=postgresql.service"
      ;;
    *)
      echo "# The database is on $host, not on this machine: no local PostgreSQL unit to require."
      ;;
  esac
}
