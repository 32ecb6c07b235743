# Sourced by the scripts: Node.js for the JavaScript client tests (tests/js), and their npm
# packages, installed only when package-lock.json changed since the last install (like
# ensure_venv). Nothing is installed globally except Debian's nodejs and npm when the machine has
# no node at all.

# The oldest Node.js the tests run on: `node --test` with reporters and a global fetch.
NODE_MIN_MAJOR=18

# node and npm from the machine; otherwise Debian's packages (root or password-less sudo);
# otherwise a clear message and a failure.
ensure_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo="sudo -n"
        if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }; then
            echo "==> installing Node.js and npm from Debian (apt-get; first run only)"
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
        fi
    fi
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "Node.js >= $NODE_MIN_MAJOR and npm are needed for the airtable.js tests (tests/js)," \
            "and could not be installed here: install them (Debian/Ubuntu: apt-get install nodejs npm)" >&2
        return 1
    fi
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    if [ "$major" -lt "$NODE_MIN_MAJOR" ]; then
        echo "Node.js $(node --version) is too old for tests/js: $NODE_MIN_MAJOR or newer is needed" >&2
        return 1
    fi
    echo "node $(node --version), npm $(npm --version)"
}

# `npm ci` in a directory with a package-lock.json, when its node_modules is missing or was
# installed from another lock file.
ensure_node_modules() {
    local dir=$1
    local stamp="$dir/node_modules/.package-lock.sha256"
    local want
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "==> installing $dir's npm packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
}
