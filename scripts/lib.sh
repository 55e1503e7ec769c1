# Shared steps of scripts/serve and scripts/test. Each step does nothing when already done.

CACHE_DIR="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/strata}"
export CACHE_DIR

say() { printf '==> %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "missing system packages: $*; install them (apt-get install $*) and run again"
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Java 17+ runs the embedded database and Maven fetches its jars (only when MONGO_URI is unset).
ensure_java_and_maven() {
  [ -n "${MONGO_URI:-}" ] && return 0
  local missing=()
  command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} for the embedded database"
    apt_install "${missing[@]}"
  fi
}

# Debian tools the tests drive: litmus (WebDAV conformance), davfs2 (FUSE mount of a home, run as
# root) and rclone (copies trees up and down over WebDAV).
ensure_test_tools() {
  local missing=()
  command -v litmus >/dev/null 2>&1 || missing+=(litmus)
  # mount.davfs lives in /usr/sbin, often not on an ordinary user's PATH
  command -v mount.davfs >/dev/null 2>&1 || [ -x /usr/sbin/mount.davfs ] || [ -x /sbin/mount.davfs ] || missing+=(davfs2)
  command -v rclone >/dev/null 2>&1 || missing+=(rclone)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# npm packages, installed exactly from package-lock.json when missing or out of date.
ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Python clients the tests drive (girder-client, and deriva for Hatrac's HatracStore and
# deriva-hatrac-cli), in a virtual environment in the cache. The marker holds the installed list, so
# a changed list reinstalls.
ensure_python_clients() {
  local venv="$CACHE_DIR/venv"
  local want=("girder-client==5.0.21" "deriva==1.7.12")
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
  fi
  if [ "$(cat "$venv/.installed" 2>/dev/null)" != "${want[*]}" ]; then
    say "installing ${want[*]} into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${want[@]}"
    echo "${want[*]}" > "$venv/.installed"
  fi
}
