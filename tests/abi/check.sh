#!/usr/bin/env bash
# Usage: check.sh HEADER LIBRARY BASELINE.abi
#
# Compares the ABI of HEADER, as LIBRARY exports it (dump.sh), with BASELINE.abi. Exits 0
# when a program built against the baseline still works: nothing changed, or only functions
# and enum values at the end were added. Exits 1 on any other change (a function removed
# or retyped, a struct resized, an enum value renumbered), with abidiff's report; 2 when
# the check itself could not run.
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: $0 HEADER LIBRARY BASELINE.abi" >&2; exit 2; }
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$here/dump.sh" "$1" "$2" "$work/current.abi" || exit 2
# abidiff's exit code is a bit set: 1 error, 2 usage error, 4 some ABI change, 8 a change
# it knows to be incompatible, which it sets only for removed symbols. Every change is thus
# taken as incompatible except those that cannot break an old program: added functions
# (--no-added-syms leaves them out of the verdict) and enumerators added at the end (which
# abidiff counts as harmless and leaves out by default).
abidiff --no-added-syms --no-show-locs "$3" "$work/current.abi" > "$work/report"
status=$?
if [ $status -eq 0 ]; then
    echo "abi-check: $1 as $2 exports it keeps the ABI of $3"
    exit 0
fi
cat "$work/report"
if [ $((status & 3)) -ne 0 ]; then
    echo "abi-check: abidiff failed (exit $status)" >&2
    exit 2
fi
echo "abi-check: $1 as $2 exports it breaks the ABI of $3 (abidiff exit $status)" >&2
exit 1
