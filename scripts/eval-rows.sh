# Sourced by the README's table scripts (eval-table.sh, protect-table.sh).
#
# eval_rows QBENCH "MODELS" "CONFIGS" [ONLY]
#   `qbench eval --model M FLAGS --format csv` (niced) for each model x line
#   of CONFIGS: one CSV header, then one row per eval. A line "MODELS: flags"
#   runs only on those models; ONLY, a regex, keeps the lines whose flags
#   match it. A failed eval is reported on stderr and the rest go on.
eval_rows() {
    _qbench=$1 _models=$2 _configs=$3 _only=${4:-}
    _header=1
    for _m in $_models; do
        echo "$_configs" | while read -r _args; do
            case "$_args" in
            *:\ --*) case " ${_args%%:*} " in *" $_m "*) _args=${_args#*: } ;; *) continue ;; esac ;;
            esac
            if [ -n "$_only" ] && ! echo "$_args" | grep -Eq -- "$_only"; then continue; fi
            # shellcheck disable=SC2086
            if ! _out=$(nice "$_qbench" eval --model "$_m" $_args --format csv); then
                echo "eval_rows: $_m $_args: failed (above); going on" >&2
                continue
            fi
            [ $_header -eq 1 ] && echo "$_out" | head -1
            _header=0
            echo "$_out" | tail -1
        done
        _header=0
    done
}
