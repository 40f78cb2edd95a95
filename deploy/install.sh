#!/usr/bin/env bash
# Installs (or updates) one KetaFlow clinic on one Debian 12 server. Run it as root from a copy of
# the source (a release archive or a git checkout); running it again is safe: it keeps the
# settings, secrets, certificate and data it finds and brings the rest up to date.
#
#   sudo bash deploy/install.sh --server-name clinic.example.org            # self-signed TLS
#   sudo bash deploy/install.sh --server-name clinic.example.org \
#        --cert /etc/ssl/clinic/fullchain.pem --key /etc/ssl/clinic/privkey.pem
#
# With --prefix DIR nothing on the machine changes: the files (settings and secrets, systemd
# units, nginx site, logrotate, the `ketaflow` wrapper, a self-signed certificate) are written
# under DIR, pointing at DIR, and no package, user, database or service is touched. The stack
# test (tests/deploy/test_stack.py) runs the app from what it renders. docs/deploy.md explains
# every step.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: install.sh [options]
  --server-name NAME   the host name browsers use (default: this machine's `hostname -f`)
  --cert FILE --key FILE
                       the clinic's TLS certificate (full chain) and key; without them a
                       self-signed certificate is made for a first try
  --http-port N        plain HTTP port, redirected to HTTPS (default 80)
  --https-port N       HTTPS port (default 443)
  --app-bind ADDR      where gunicorn listens, on loopback (default 127.0.0.1:8001)
  --workers N          gunicorn worker processes (default 2 per core plus one, at most 9)
  --database-url URL   the database (default postgres:///ketaflow: this server's PostgreSQL,
                       the ketaflow role, peer authentication; created when it is the default)
  --source DIR         the KetaFlow source to install (default: the folder above deploy/)
  --prefix DIR         write everything under DIR and change nothing else (a rehearsal, tests);
                       with --database-url, that database is migrated or upgraded too
  --app-dir DIR        where the code and its .venv are (default PREFIX/opt/ketaflow); with
                       --prefix it may be the source itself, with its .venv made by make
  -h, --help           this text
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 2
}
say() { echo "install.sh: $*"; }

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=""
app_dir=""
server_name=""
cert=""
key=""
http_port=80
https_port=443
app_bind=127.0.0.1:8001
workers=$(($(nproc 2>/dev/null || echo 1) * 2 + 1))
[ "$workers" -le 9 ] || workers=9
database_url=""
given_database_url=""

while [ $# -gt 0 ]; do
  option=$1
  case "$option" in
    -h | --help) usage; exit 0 ;;
    --server-name | --cert | --key | --http-port | --https-port | --app-bind | --workers | \
      --database-url | --source | --prefix | --app-dir)
      [ $# -ge 2 ] || die "$option needs a value"
      value=$2
      shift 2
      ;;
    *) die "unknown option $option (see --help)" ;;
  esac
  case "$option" in
    --server-name) server_name=$value ;;
    --cert) cert=$value ;;
    --key) key=$value ;;
    --http-port) http_port=$value ;;
    --https-port) https_port=$value ;;
    --app-bind) app_bind=$value ;;
    --workers) workers=$value ;;
    --database-url) database_url=$value given_database_url=$value ;;
    --source) source_dir=$(cd "$value" && pwd) ;;
    --prefix) prefix=$(mkdir -p "$value" && cd "$value" && pwd) ;;
    --app-dir) app_dir=$value ;;
  esac
done

for port in "$http_port" "$https_port"; do
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
    die "--http-port/--https-port: $port is not a port number (1-65535)"
done
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "--workers: $workers is not a number of processes"
[[ "$app_bind" =~ ^(127\.[0-9.]+|\[::1\]):[0-9]+$ ]] ||
  die "--app-bind: $app_bind is not a loopback address and port (e.g. 127.0.0.1:8001)"
if { [ -n "$cert" ] && [ -z "$key" ]; } || { [ -z "$cert" ] && [ -n "$key" ]; }; then
  die "--cert and --key go together"
fi
[ -f "$source_dir/uv.lock" ] && [ -d "$source_dir/deploy" ] ||
  die "--source: $source_dir is not a KetaFlow source folder (no uv.lock)"

# The settings come from the settings file only, never from the caller's shell.
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(KETAFLOW_|DJANGO_|DATABASE_URL$)' || true)

# Where everything goes. With --prefix, under it; the rendered files point there too.
rehearsal=0
[ -n "$prefix" ] && rehearsal=1
app_dir=${app_dir:-$prefix/opt/ketaflow}
etc_dir=$prefix/etc/ketaflow
var_dir=$prefix/var/lib/ketaflow
log_dir=$prefix/var/log/ketaflow
backup_dir=$prefix/var/backups/ketaflow
nginx_log_dir=$prefix/var/log/nginx
systemd_dir=$prefix/etc/systemd/system
nginx_dir=$prefix/etc/nginx
logrotate_dir=$prefix/etc/logrotate.d
sbin_dir=$prefix/usr/local/sbin
env_file=$etc_dir/ketaflow.env

if [ "$rehearsal" -eq 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "run it as root (sudo bash deploy/install.sh ...), or with --prefix DIR"
  [ -f /etc/debian_version ] || die "this script installs on Debian 12; see docs/deploy.md for others"
fi

# ---- 1. Debian packages --------------------------------------------------------------------
if [ "$rehearsal" -eq 0 ]; then
  say "Debian packages (PostgreSQL, nginx, Python 3.11, openssl, logrotate)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql nginx python3.11 python3.11-venv \
    python3-pip make openssl ca-certificates logrotate rsync util-linux >/dev/null
fi

# ---- 2. The system user and the folders ----------------------------------------------------
if [ "$rehearsal" -eq 0 ] && ! id ketaflow >/dev/null 2>&1; then
  say "system user ketaflow"
  useradd --system --user-group --home-dir "$var_dir" --no-create-home \
    --shell /usr/sbin/nologin ketaflow
fi
# folder, mode, owner (the owner only when installing for real)
make_dir() {
  mkdir -p "$1"
  chmod "$2" "$1"
  if [ "$rehearsal" -eq 0 ]; then chown "$3" "$1"; fi
}
make_dir "$etc_dir" 0750 root:ketaflow
# 0751: nginx (www-data) may pass through to the static files, not list the folder
make_dir "$var_dir" 0751 ketaflow:ketaflow
make_dir "$log_dir" 0750 ketaflow:ketaflow
make_dir "$backup_dir" 0700 ketaflow:ketaflow
mkdir -p "$systemd_dir" "$nginx_dir/sites-available" "$nginx_dir/sites-enabled" \
  "$logrotate_dir" "$sbin_dir" "$nginx_log_dir"

# ---- 3. The code and its environment from uv.lock ------------------------------------------
if [ "$rehearsal" -eq 0 ]; then
  if [ "$source_dir" != "$app_dir" ]; then
    say "code into $app_dir"
    mkdir -p "$app_dir"
    # (the leading / anchors a name to the top of the source: src/ may hold a folder "var")
    rsync -a --delete --exclude /.git --exclude /.venv --exclude /.uv-bootstrap --exclude /var \
      --exclude '__pycache__' --exclude '.*_cache' "$source_dir/" "$app_dir/"
    chown -R root:root "$app_dir"
  fi
  say "Python environment from uv.lock (no development tools)"
  uv_version=$(sed -n 's/^UV_VERSION := //p' "$app_dir/Makefile")
  if [ ! -x "$app_dir/.uv-bootstrap/bin/uv" ]; then
    python3.11 -m pip install --quiet --disable-pip-version-check \
      --target "$app_dir/.uv-bootstrap" "uv==$uv_version"
  fi
  (cd "$app_dir" && UV_PROJECT_ENVIRONMENT="$app_dir/.venv" UV_PYTHON_DOWNLOADS=never \
    .uv-bootstrap/bin/uv sync --frozen --no-dev --compile-bytecode --python python3.11 --quiet)
  # The code is root's and read-only for the services: compile it now, once.
  "$app_dir/.venv/bin/python" -m compileall -q "$app_dir/src" >/dev/null
fi
ketaflow_bin=$app_dir/.venv/bin/ketaflow
[ -x "$ketaflow_bin" ] || die "$ketaflow_bin is missing (with --app-dir, run make .venv/.synced there)"

# ---- 4. Secrets and settings (made once, never overwritten) --------------------------------
private_file() { # path owner: an empty file only its owner reads
  (umask 077 && : >"$1")
  if [ "$rehearsal" -eq 0 ]; then chown "$2" "$1"; fi
}
if [ ! -s "$etc_dir/audit.key" ]; then
  say "a new audit key in $etc_dir/audit.key"
  private_file "$etc_dir/audit.key" ketaflow:ketaflow
  openssl rand -hex 32 >"$etc_dir/audit.key"
fi
if [ ! -s "$etc_dir/backup.key" ]; then
  say "a new backup key in $etc_dir/backup.key (keep a copy away from the backups)"
  rm -f "$etc_dir/backup.key"
  env -i PATH=/usr/bin:/bin "$ketaflow_bin" backup keygen --file "$etc_dir/backup.key" >/dev/null
  if [ "$rehearsal" -eq 0 ]; then chown ketaflow:ketaflow "$etc_dir/backup.key"; fi
fi
chmod 0600 "$etc_dir/audit.key" "$etc_dir/backup.key"

self_signed_cert=$etc_dir/tls/selfsigned.crt
self_signed_key=$etc_dir/tls/selfsigned.key
https_suffix=""
[ "$https_port" = 443 ] || https_suffix=":$https_port"

# Replace @NAME@ placeholders from the variables given as NAME=value arguments.
render() { # template output NAME=value...
  local template=$1 output=$2 text pair name value
  shift 2
  text=$(<"$template")
  for pair in "$@"; do
    name=${pair%%=*}
    value=${pair#*=}
    text=${text//@$name@/$value}
  done
  if [[ "$text" =~ @[A-Z_]+@ ]]; then
    die "$template: placeholder ${BASH_REMATCH[0]} left unrendered"
  fi
  printf '%s\n' "$text" >"$output.new"
  mv "$output.new" "$output"
}

if [ ! -f "$env_file" ]; then
  say "settings in $env_file (generated secrets; edit it for email and the like)"
  server_name=${server_name:-$(hostname -f 2>/dev/null || hostname)}
  private_file "$env_file.new" root:root
  render "$source_dir/deploy/ketaflow.env.example" "$env_file.new" \
    SERVER_NAME="$server_name" HTTPS_SUFFIX="$https_suffix" \
    SECRET_KEY="$(openssl rand -hex 40)" ETC_DIR="$etc_dir" \
    DATABASE_URL="${database_url:-postgres:///ketaflow}" VAR_DIR="$var_dir" \
    BACKUP_DIR="$backup_dir" APP_BIND="$app_bind" WEB_WORKERS="$workers" LOG_DIR="$log_dir" \
    TLS_CERT="${cert:-$self_signed_cert}" TLS_KEY="${key:-$self_signed_key}"
  chmod 0600 "$env_file.new"
  mv "$env_file.new" "$env_file"
fi
chmod 0600 "$env_file"

# A setting from the settings file (the last line that sets it).
setting() {
  local line
  line=$(grep -E "^$1=" "$env_file" | tail -n 1 || true)
  line=${line#*=}
  line=${line#\"}
  printf '%s' "${line%\"}"
}
set_setting() { # name value: changes the line in place (the file keeps its mode)
  local escaped
  escaped=$(printf '%s' "$2" | sed 's/[&|\\]/\\&/g')
  if grep -qE "^$1=" "$env_file"; then
    sed -i "s|^$1=.*|$1=$escaped|" "$env_file"
  else
    printf '%s=%s\n' "$1" "$2" >>"$env_file"
  fi
}
if [ -n "$cert" ]; then
  set_setting KETAFLOW_TLS_CERT "$cert"
  set_setting KETAFLOW_TLS_KEY "$key"
fi
[ -z "$database_url" ] || set_setting DATABASE_URL "$database_url"
allowed_hosts=$(setting KETAFLOW_ALLOWED_HOSTS)
server_name=${allowed_hosts%%,*}
[ -n "$server_name" ] || die "$env_file: KETAFLOW_ALLOWED_HOSTS is empty"
tls_cert=$(setting KETAFLOW_TLS_CERT)
tls_key=$(setting KETAFLOW_TLS_KEY)
app_bind=$(setting KETAFLOW_BIND)
database_url=$(setting DATABASE_URL)

# ---- 5. TLS: the clinic's certificate, or a self-signed one for a first try -----------------
if [ "$tls_cert" = "$self_signed_cert" ] && [ ! -s "$self_signed_cert" ]; then
  say "a self-signed certificate for $server_name (browsers will warn: replace it, docs/deploy.md)"
  mkdir -p "$etc_dir/tls"
  chmod 0750 "$etc_dir/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$server_name" \
    -addext "subjectAltName=DNS:$server_name" \
    -keyout "$self_signed_key" -out "$self_signed_cert" 2>/dev/null
  chmod 0600 "$self_signed_key"
fi
[ -r "$tls_cert" ] || die "KETAFLOW_TLS_CERT: cannot read $tls_cert"
[ -r "$tls_key" ] || die "KETAFLOW_TLS_KEY: cannot read $tls_key"

# ---- 6. The database and its role ----------------------------------------------------------
if [ "$rehearsal" -eq 0 ] && [ "$database_url" = "postgres:///ketaflow" ]; then
  say "PostgreSQL: the ketaflow role and database (peer authentication, no password)"
  systemctl enable --now postgresql >/dev/null
  as_postgres() { runuser -u postgres -- "$@"; }
  if [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'ketaflow'")" != 1 ]; then
    as_postgres createuser ketaflow
  fi
  if [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'ketaflow'")" != 1 ]; then
    as_postgres createdb --owner ketaflow --encoding UTF8 ketaflow
  fi
fi

# ---- 7. The configuration files ------------------------------------------------------------
say "systemd units, nginx site, logrotate, the ketaflow command (under ${prefix:-/})"
# shellcheck source=deploy/database-unit.sh
. "$source_dir/deploy/database-unit.sh"
placeholders=(DATABASE_UNIT="$(database_unit_lines "$database_url")" APP_DIR="$app_dir" ETC_DIR="$etc_dir" VAR_DIR="$var_dir" LOG_DIR="$log_dir"
  BACKUP_DIR="$backup_dir" SERVER_NAME="$server_name" HTTP_PORT="$http_port"
  HTTPS_PORT="$https_port" HTTPS_SUFFIX="$https_suffix" APP_BIND="$app_bind"
  TLS_CERT="$tls_cert" TLS_KEY="$tls_key" NGINX_LOG_DIR="$nginx_log_dir")
for unit in ketaflow-web.service ketaflow-worker.service; do
  render "$source_dir/deploy/systemd/$unit" "$systemd_dir/$unit" "${placeholders[@]}"
done
render "$source_dir/deploy/nginx/ketaflow.conf" "$nginx_dir/sites-available/ketaflow" \
  "${placeholders[@]}"
ln -sfn "$nginx_dir/sites-available/ketaflow" "$nginx_dir/sites-enabled/ketaflow"
render "$source_dir/deploy/logrotate/ketaflow" "$logrotate_dir/ketaflow" "${placeholders[@]}"
render "$source_dir/deploy/ketaflow-admin.sh" "$sbin_dir/ketaflow" "${placeholders[@]}"
chmod 0755 "$sbin_dir/ketaflow"
chmod 0644 "$systemd_dir"/ketaflow-*.service "$nginx_dir/sites-available/ketaflow" \
  "$logrotate_dir/ketaflow"

# ---- 8. The static files nginx serves (first: in production the URL configuration, which
# every management command loads, needs their manifest); then `ketaflow upgrade`: a new database
# is migrated; one with data has its chains checked before and after (refused when they fail).
# A rehearsal (--prefix) does this only for a database named with --database-url.
ketaflow=$sbin_dir/ketaflow
if [ "$rehearsal" -eq 0 ] || [ -n "$given_database_url" ]; then
  "$ketaflow" manage collectstatic --noinput --verbosity 0
  chmod -R a+rX "$var_dir/static"
  say "ketaflow upgrade: verify the chains, migrate, verify again (a new database: migrate)"
  "$ketaflow" upgrade ||
    die "ketaflow upgrade refused or failed: nothing was started; see docs/deploy.md, Upgrades"
fi

if [ "$rehearsal" -eq 1 ]; then
  say "rehearsal done: everything is under $prefix (nothing else changed)"
  exit 0
fi

# ---- 9. The services -----------------------------------------------------------------------
systemctl daemon-reload
systemctl enable ketaflow-web.service ketaflow-worker.service >/dev/null 2>&1
systemctl restart ketaflow-web.service ketaflow-worker.service
# Debian's default site answers every other name on port 80; the clinic's server has one site.
rm -f "$nginx_dir/sites-enabled/default"
nginx -t -q
systemctl enable nginx >/dev/null 2>&1
systemctl reload-or-restart nginx

say "done. KetaFlow answers on https://$server_name$https_suffix/"
"$ketaflow" check || true
cat <<EOF

Next (docs/deploy.md):
  1. the first account:         sudo ketaflow manage shell < $app_dir/deploy/first-admin.py
  2. what production still lacks: sudo ketaflow check
  3. monitoring:                curl -s https://$server_name$https_suffix/healthz
  4. copy $backup_dir off this server every day, and the keys in $etc_dir elsewhere.
EOF
