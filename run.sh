#!/usr/bin/env bash
# cascade-explorer: set everything up on a fresh machine, then run what you asked for.
#
#   ./run.sh demo    launch the dashboard on this machine only (http://127.0.0.1:8501), then
#                    press "Run the demo" on its first page
#   ./run.sh demo --share   the same, reachable from the network, behind a token (printed here;
#                    CASCADE_TOKEN to choose it; CASCADE_SHARE=1 does the same as --share)
#   ./run.sh test    run the test suite (what CI runs), including the browser tests, on every core;
#                    ./run.sh test -m "not slow" is the fast tier
#   ./run.sh setup   only install
#
# Installs into ./.venv (override with VENV=...). torch is installed first, pinned to a CPU
# build (torch==2.13.0 lies on this kind of machine's disk): left to itself, pip would pull a
# multi-GB CUDA build through sentence-transformers. TORCH_SPEC chooses another, with pip's
# options: TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" (a GPU).
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

# pip, minus the "Location ... is ignored" lines some machines' pip configuration prints.
quiet_pip() {
  "$VENV/bin/python" -m pip -q "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }
}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(cat pyproject.toml run.sh | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "Installing into $VENV (first run only; a few minutes)..." >&2
    quiet_pip install --upgrade pip
    local torch_args
    read -r -a torch_args <<< "$TORCH_SPEC"   # a spec and pip's options: torch==X --index-url URL
    quiet_pip install "${torch_args[@]}"
    quiet_pip install -e ".[test]"
    touch "$stamp"
  fi
}

# The browser test drives Debian's Chromium (never a browser a test tool downloads).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium for the browser test..." >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: /usr/bin/chromium is missing (install Debian's chromium): the browser test will be skipped" >&2
  fi
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  setup) setup ;;
  demo)
    # Local by default (loopback); shared on purpose, with a token (README: "Sharing the dashboard").
    share=${CASCADE_SHARE:-0}
    args=()
    port=8501
    while [ $# -gt 0 ]; do
      case "$1" in
        --share) share=1 ;;
        --server.port) args+=("$1" "${2:-}"); port=${2:-$port}; shift ;;
        --server.port=*) args+=("$1"); port=${1#*=} ;;
        *) args+=("$1") ;;
      esac
      shift
    done
    address=127.0.0.1
    case "$(echo "$share" | tr '[:upper:]' '[:lower:]')" in
      1|true|yes|on)
        address=0.0.0.0
        export CASCADE_SHARE=1
        if [ -z "${CASCADE_TOKEN:-}" ]; then
          CASCADE_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
          export CASCADE_TOKEN
        fi
        host=$(hostname -I 2>/dev/null | awk '{print $1}')
        echo "Sharing the dashboard on the network. Visitors need the token; give them this link:" >&2
        echo "  http://${host:-$(hostname)}:$port/?token=$CASCADE_TOKEN" >&2
        ;;
    esac
    cmd=("$VENV/bin/streamlit" run app.py --browser.gatherUsageStats false --server.address "$address"
         ${args[@]+"${args[@]}"})
    if [ -n "${CASCADE_DRY_RUN:-}" ]; then   # print the command instead of running it (tests)
      echo "${cmd[*]}"
      exit 0
    fi
    setup
    exec "${cmd[@]}"
    ;;
  cli-demo)
    setup
    exec "$VENV/bin/cascade" demo "$@"
    ;;
  test)
    setup
    ensure_chromium
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
    # On every core (pytest-xdist; the slow tests start first), unless the arguments choose
    # (-n N, or -p no:xdist for one process).
    workers=(-n auto --dist worksteal)
    for a in "$@"; do
      case "$a" in -n|-n[0-9]*|--numprocesses*|no:xdist) workers=() ;; esac
    done
    exec "$VENV/bin/python" -m pytest ${workers[@]+"${workers[@]}"} "$@"
    ;;
  *)
    echo "usage: ./run.sh [demo|test|setup|cli-demo]" >&2
    exit 2
    ;;
esac
