#!/usr/bin/env bash
# Checks that the library's module graph is one-way (docs/ARCHITECTURE.md, "Layers"): a module
# may name (`use crate::X`, `crate::X::…`) only modules of a lower layer, or itself.
#
#   layer 0  error, env, format,     no imports of other modules (env may use error)
#            chart                   (run colours and the min/max pyramid, shared by viewer and CLI)
#   layer 1  model, http             MLflow's entities and validation; the HTTP transport
#   layer 2  search                  filter grammar, evaluation, SQL compilation, page tokens
#   layer 3  store                   the TrackingStore trait and its backends
#   layer 4  artifacts, system_metrics, watch
#   layer 5  tracking                TrackingClient, fluent API, async queue, autolog
#   layer 6  cli, viewer, integrations
#
# Inside `tracking`: async_queue ← client ← fluent (checked at the end).
#
# `error` and `env` share layer 0 but `env` may use `error` (listed below as an exception).
# Comment lines (`//`, `//!`, `///`: rustdoc links) are not imports and are skipped. A path
# through the crate root's re-exports (`crate::Foo`) counts as `error` for `Error`, `ErrorCode`,
# `Result` and `StoreWarning`; `$crate::` (macros) is skipped; any other root item is refused below layer 6, because it hides
# which module it comes from.
#
# Usage: scripts/check-layering.sh        (exit 1 and one line per broken import on failure)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

declare -A LAYER=(
    [error]=0 [env]=0 [format]=0 [chart]=0
    [model]=1 [http]=1
    [search]=2
    [store]=3
    [artifacts]=4 [system_metrics]=4 [watch]=4
    [tracking]=5
    [cli]=6 [viewer]=6 [integrations]=6
)
# Same-layer imports that are allowed: "from>to".
ALLOWED_SAME_LAYER=" env>error "
ROOT_ERROR_ITEMS="Error ErrorCode Result StoreWarning"

failures=0
report() {
    echo "layering: $1" >&2
    failures=$((failures + 1))
}

# Top-level modules that are not in the table are refused: a new module must get a layer.
for path in src/*.rs src/*/; do
    name="$(basename "$path" .rs)"
    case "$name" in lib | main) continue ;; esac
    [ -n "${LAYER[$name]+x}" ] || report "src/$name has no layer in scripts/check-layering.sh (add it to LAYER and to docs/ARCHITECTURE.md)"
done

while IFS= read -r file; do
    rel="${file#src/}"
    from="${rel%%/*}"
    from="${from%.rs}"
    case "$from" in lib | main) continue ;; esac
    from_layer="${LAYER[$from]:-}"
    [ -n "$from_layer" ] || continue
    # Each `crate::name` occurrence on a non-comment line; `use crate::{a, b}` lists are split.
    while IFS=: read -r line_no text; do
        code="${text%%//*}"
        code="${code//\$crate::/}" # macro paths resolve in the caller's crate
        for target in $(grep -oE 'crate::(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)' <<<"$code" |
            sed -E 's/^crate:://; s/[{}]//g; s/::[A-Za-z0-9_:]*//g; s/,/ /g'); do
            if [ -n "${LAYER[$target]+x}" ]; then
                to="$target"
            elif [[ " $ROOT_ERROR_ITEMS " == *" $target "* ]]; then
                to=error
            else
                [ "$from_layer" -ge 6 ] && continue
                report "$file:$line_no: crate::$target is a crate-root re-export; name the module it comes from"
                continue
            fi
            [ "$to" = "$from" ] && continue
            to_layer="${LAYER[$to]}"
            if [ "$to_layer" -lt "$from_layer" ]; then
                continue
            fi
            if [ "$to_layer" -eq "$from_layer" ] && [[ "$ALLOWED_SAME_LAYER" == *" $from>$to "* ]]; then
                continue
            fi
            report "$file:$line_no: $from (layer $from_layer) uses $to (layer $to_layer): ${code#"${code%%[![:space:]]*}"}"
        done
    done < <(grep -nE 'crate::' "$file" | grep -vE '^[0-9]+:[[:space:]]*//' || true)
done < <(find src -name '*.rs' | sort)

# Inside `tracking`: the asynchronous queue sits below the client, the client below the fluent
# API (tracking/async_queue.rs ← client.rs ← fluent.rs), so none imports one above it.
forbid_within() {
    local file="$1" pattern="$2" why="$3" hit
    [ -f "$file" ] || return 0
    while IFS= read -r hit; do
        report "$file:${hit%%:*}: $why: ${hit#*:}"
    done < <(grep -nE "$pattern" "$file" | grep -vE '^[0-9]+:[[:space:]]*//' || true)
}
forbid_within src/tracking/async_queue.rs '(tracking|super)::(client|fluent)|TrackingClient' \
    "the queue (tracking/async_queue.rs) sits below the client and the fluent API"
forbid_within src/tracking/client.rs '(tracking|super)::fluent' \
    "the client (tracking/client.rs) sits below the fluent API"

if [ "$failures" -gt 0 ]; then
    echo "layering: $failures import(s) break the module layers (see docs/ARCHITECTURE.md)" >&2
    exit 1
fi
echo "layering: every crate:: path goes down the layers"
