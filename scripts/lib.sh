# Shared by scripts/dev and scripts/test: a project-local virtualenv and the system
# packages the tests use, installed when missing. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "regmail needs Python 3.11 or newer (python3 --version: $(python3 --version 2>&1))" >&2
  exit 1
}

apt_install() {
  # Install Debian packages when we are root; otherwise say exactly what is missing.
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: $* (run as root, or: sudo apt-get install $*)" >&2
    exit 1
  fi
  log "installing Debian packages: $*"
  if [ -z "${REGMAIL_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export REGMAIL_APT_UPDATED=1
  fi
  # Postfix asks how to configure itself; the tests only need its smtp-sink binary.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_venv() {
  # $1: pip extras ("server", "dev", ...), at the versions of constraints.txt. Reinstalls
  # only when pyproject.toml or constraints.txt changed.
  local extras="${1:-}" python stamp want
  if [ ! -x "$VENV/bin/python" ]; then
    python="$(pick_python)"
    log "creating virtualenv .venv with $python"
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
      apt_install python3-venv
      "$python" -m venv "$VENV"
    fi
  fi
  stamp="$VENV/.regmail-installed"
  want="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1) extras=$extras"
  # A dev install holds every extra but bench's: keep it.
  case "$extras" in
    "" | server | example | server,example) grep -qxF "${want% extras=*} extras=dev" "$stamp" 2>/dev/null && return ;;
  esac
  if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
    log "installing regmail${extras:+[$extras]} into .venv"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT${extras:+[$extras]}"
    echo "$want" >"$stamp"
  fi
}

ensure_test_servers() {
  local missing=()
  [ -x /usr/sbin/smtp-sink ] || missing+=(postfix)
  # For the Grafana dashboard's test, which starts its own Prometheus on 127.0.0.1.
  [ -x /usr/bin/prometheus ] || missing+=(prometheus)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # A CJK font, so the zh-CN screenshots of the browser test show text, not boxes.
  fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-zenhei)
  # The container image's test: podman (with runc) and a base image from debootstrap.
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  # The systemd units' test: systemd-analyze verify.
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
}
