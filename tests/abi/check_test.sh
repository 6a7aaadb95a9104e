#!/usr/bin/env bash
# Usage: check_test.sh HEADER LIBRARY
#
# The ABI check (check.sh) tested on changes made to a copy of HEADER: against a baseline
# taken from HEADER itself, it must fail on each incompatible change and pass on each
# addition an old program cannot notice. A change of the export list is made with a stub
# library, which stands for LIBRARY only by the names it exports (all that dump.sh reads
# from it). The header has no public struct, so a struct that grows is shown on a header
# pair of its own.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 HEADER LIBRARY" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
header=$1 library=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# stub NAME FUNCTION...: $work/NAME.so exporting these functions (as `void f(void)`).
stub() {
    local name=$1
    shift
    printf 'void %s(void) {}\n' "$@" > "$work/$name.c"
    gcc -shared -fPIC -o "$work/$name.so" "$work/$name.c"
}

# variant NAME PYTHON: $work/NAME.h, HEADER as the Python statement leaves `h` (read from
# HEADER); the statement must change it.
variant() {
    python3 - "$header" "$work/$1.h" "$2" <<'EOF'
import re, sys
h = original = open(sys.argv[1]).read()
exec(sys.argv[3])
if h == original:
    sys.exit(f"{sys.argv[2]}: the edit changed nothing; does the header still match it?")
open(sys.argv[2], "w").write(h)
EOF
}

# expect WANT WHAT HEADER LIBRARY BASELINE: check.sh's exit status must be WANT (0 passes,
# 1 incompatible; 2, the check not running, is never wanted).
expect() {
    local want=$1 what=$2 status=0
    "$here/check.sh" "$3" "$4" "$5" > "$work/out" 2>&1 || status=$?
    if [ "$status" -eq "$want" ]; then
        echo "ok: $what: check.sh exits $status"
        passed=$((passed + 1))
    else
        echo "FAILED: $what: check.sh exits $status, wanted $want:"
        sed 's/^/    /' "$work/out"
        failed=$((failed + 1))
    fi
}

"$here/dump.sh" "$header" "$library" "$work/baseline.abi"
mapfile -t exports < <(nm -D --defined-only "$library" |
    awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | grep '^oss_')

expect 0 "the header unchanged" "$header" "$library" "$work/baseline.abi"

variant removed 'h = re.sub(r"\n[^\n]*\boss_append_flush\([^;]*;\n", "\n", h)'
mapfile -t rest < <(printf '%s\n' "${exports[@]}" | grep -vx oss_append_flush)
stub removed "${rest[@]}"
expect 1 "oss_append_flush removed" "$work/removed.h" "$work/removed.so" "$work/baseline.abi"

variant retyped 'h = re.sub(r"(\boss_append_write\([^;]*?)size_t len", r"\1uint32_t len", h)'
expect 1 "oss_append_write's len retyped as uint32_t" "$work/retyped.h" "$library" \
    "$work/baseline.abi"

# oss_url_style travels as int (oss_config_set_url_style): only the probe's enum variables
# see it.
variant renumbered 'h = h.replace("OSS_URL_PATH = 2,", "OSS_URL_PATH = 7,")'
expect 1 "OSS_URL_PATH renumbered" "$work/renumbered.h" "$library" "$work/baseline.abi"

variant added 'h = h.replace("\n#ifdef __cplusplus\n}", "\nint oss_abi_test_added(int x);\n\n#ifdef __cplusplus\n}")'
stub added "${exports[@]}" oss_abi_test_added
expect 0 "a function added" "$work/added.h" "$work/added.so" "$work/baseline.abi"

variant enum_added 'h = h.replace("\n} oss_status;", "\n  OSS_ERR_ABI_TEST_ADDED = 1000,\n} oss_status;")'
expect 0 "a status value added at the end" "$work/enum_added.h" "$library" \
    "$work/baseline.abi"

# A struct passed by pointer, then the same struct with a field more.
printf 'struct oss_abi_test { int a; };\nvoid oss_abi_test_take(struct oss_abi_test *t);\n' \
    > "$work/struct.h"
sed 's/int a; };/int a; int b; };/' "$work/struct.h" > "$work/grown.h"
stub struct oss_abi_test_take
"$here/dump.sh" "$work/struct.h" "$work/struct.so" "$work/struct.abi"
expect 0 "the struct unchanged" "$work/struct.h" "$work/struct.so" "$work/struct.abi"
expect 1 "the struct grown by a field" "$work/grown.h" "$work/struct.so" "$work/struct.abi"

echo "abi check_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
