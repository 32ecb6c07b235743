# Sourced by the scripts: creates (or refreshes) a venv under .venv/<name> from a requirements
# file, only when the file changed since the last install. Nothing is installed globally.
ensure_venv() {
    local name=$1 requirements=$2
    local dir=".venv/$name"
    local stamp="$dir/.requirements.sha256"
    local want
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "==> installing Python tools into $dir (first run only)"
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
}

# A free TCP port on localhost.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
