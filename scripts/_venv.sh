# Shared by scripts/demo and scripts/test: create .venv and install the package into it.
# Source it from the repository root after `set -euo pipefail`.

PYTHON=${PYTHON:-python3}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON was not found on PATH. Install Python 3.11 or newer (apt-get install python3 python3-venv)." >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "error: presence-bridge needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1). Set PYTHON=/path/to/python3.11." >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "Creating the virtual environment .venv with $("$PYTHON" -V 2>&1)" >&2
    if ! "$PYTHON" -m venv .venv; then
        rm -rf .venv
        echo "error: could not create .venv. On Debian and Ubuntu install the venv module: apt-get install python3-venv" >&2
        exit 1
    fi
fi

# install_package EXTRAS: pip-install the checkout (editable) with EXTRAS, e.g. "" or "[test]".
# A stamp file skips the install when pyproject.toml and the extras are unchanged since the last run.
install_package() {
    local extras=$1
    local stamp=.venv/.presence-bridge-install${extras:+-${extras//[^a-z]/}}
    local digest
    digest=$(.venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return 0
    fi
    echo "Installing presence-bridge${extras} into .venv" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
    echo "$digest" >"$stamp"
}
