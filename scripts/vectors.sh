# Sourced by the scripts that run suites: where the conformance vectors are read from.
# MOTAN_VECTORS_DIR when set; else the upstream set beside the clone (../shared/vectors, the
# golden source); else the project's copy, tests/vectors (a fresh clone with nothing beside it).
motan_vectors_dir() {
    local root=$1 up="$1/../shared/vectors"
    if [ -n "${MOTAN_VECTORS_DIR:-}" ]; then
        echo "$MOTAN_VECTORS_DIR"
    elif [ -f "$up/simple.json" ] && [ -f "$up/frames.json" ]; then
        (cd "$up" && pwd)
    else
        echo "$root/tests/vectors"
    fi
}
