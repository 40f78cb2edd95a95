#!/usr/bin/env bash
# `ketaflow` on the server (installed as /usr/local/sbin/ketaflow by deploy/install.sh): the
# app's command with the server's settings (@ETC_DIR@/ketaflow.env), run as the ketaflow user.
#   sudo ketaflow check
#   sudo ketaflow backup create /var/backups/ketaflow/before-upgrade.kfbackup
#   sudo DATABASE_URL=postgres:///ketaflow_drill ketaflow backup restore FILE
# A variable already in the environment wins over the file (that is how a restore drill points
# at another database); sudo clears the caller's environment, so only what is named is used.
set -euo pipefail
env_file="@ETC_DIR@/ketaflow.env"
if [ ! -r "$env_file" ]; then
  echo "ketaflow: cannot read $env_file (run it as root: sudo ketaflow ...)" >&2
  exit 2
fi
# NAME=value lines, as systemd reads them; nothing in the file is executed.
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in '' | '#'*) continue ;; esac
  name=${line%%=*}
  value=${line#*=}
  if [[ ! "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    continue
  fi
  if [[ "$value" == \"*\" && ${#value} -ge 2 ]]; then
    value=${value:1:${#value}-2}
  fi
  if [ -z "${!name+set}" ]; then
    export "$name=$value"
  fi
done <"$env_file"
unset DJANGO_SETTINGS_MODULE
export HOME="@VAR_DIR@"
cd "@VAR_DIR@"
if [ "$(id -u)" -eq 0 ] && id ketaflow >/dev/null 2>&1; then
  exec setpriv --reuid=ketaflow --regid=ketaflow --init-groups -- "@APP_DIR@/.venv/bin/ketaflow" "$@"
fi
exec "@APP_DIR@/.venv/bin/ketaflow" "$@"
