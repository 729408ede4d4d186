# Sourced by scripts/demo and scripts/test: make .venv with everything Loopline and its tests need.
# Safe to run any number of times: each step is skipped when already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
# Debian packages the tests and benchmarks use (git compares revisions, promtool and prometheus
# check metrics and rules, alertmanager receives their alerts, wrk loads the model server);
# installed only when missing.
APT_PACKAGES=(git prometheus prometheus-alertmanager wrk chromium)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_apt_packages() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

ensure_uv() {
    if command -v uv >/dev/null 2>&1; then return 0; fi
    log "installing uv (fast Python package installer)"
    "$PY" -m pip install -q --user uv >/dev/null 2>&1 || "$PY" -m pip install -q uv >/dev/null 2>&1 || true
    export PATH="$HOME/.local/bin:$PATH"
    command -v uv >/dev/null 2>&1
}

ensure_venv() {
    local stamp="$VENV/.loopline-installed"
    local want
    want="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/_bootstrap.sh" | sha256sum | cut -c1-16)"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    log "creating the virtual environment in .venv"
    if ensure_uv; then
        [ -x "$VENV/bin/python" ] || uv venv -q --python "$PY" "$VENV"
        uv pip install -q --compile-bytecode --python "$VENV/bin/python" -e "$ROOT[dev]"
    else
        [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
        "$VENV/bin/pip" install -q -e "$ROOT[dev]"
    fi
    echo "$want" > "$stamp"
}

compile_sources() {
    # Byte-compile up front: with PYTHONDONTWRITEBYTECODE set (common in containers) every
    # start would otherwise recompile the sources, tripling `loopline --help` time.
    "$VENV/bin/python" -m compileall -q -j 0 "$ROOT/src" >/dev/null
}

install_apt_packages
ensure_venv
compile_sources
export PATH="$VENV/bin:$PATH"
