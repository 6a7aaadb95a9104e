#!/usr/bin/env bash
# Usage: dump.sh HEADER LIBRARY OUT.abi
#
# Writes the ABI of HEADER as LIBRARY exports it (libabigail's XML, from abidw) to OUT.abi.
# Rust's DWARF does not describe the C types of the header, so the record is taken from a
# small C "probe" compiled against the header: one pointer variable per exported oss_
# function, typed from its declaration (a function removed or retyped changes a variable),
# and one variable per enum of the header (enums travel as int in some signatures, so a
# renumbered value would otherwise go unseen).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 HEADER LIBRARY OUT.abi" >&2; exit 2; }
header=$(realpath "$1")
library=$2
out=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The library's own export list, not the header's: what programs can bind to. nm prints a
# version after the name (oss_x@@liboss_append.so.1); the probe wants the bare name.
functions=$(nm -D --defined-only "$library" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' |
  grep '^oss_' | sort -u)
[ -n "$functions" ] || { echo "$library exports no oss_ function" >&2; exit 1; }
for f in $functions; do
  grep -q "[ *]$f(" "$header" || { echo "$library exports $f, which $header does not declare" >&2; exit 1; }
done
enums=$(sed -n 's/^\(typedef \)\{0,1\}enum \(oss_[A-Za-z0-9_]*\) {.*/\2/p' "$header" | sort -u)

{
  printf '#include "%s"\n' "$header"
  for f in $functions; do printf '__typeof__(%s) *const oss_abi_%s = %s;\n' "$f" "$f" "$f"; done
  for e in $enums; do printf 'enum %s oss_abi_enum_%s;\n' "$e" "$e"; done
} > "$work/probe.c"
# Undefined references are fine in a shared object: only its DWARF is read. Compiled by a
# relative name, and recorded without paths or source locations, so that the record does
# not depend on where the tree is.
(cd "$work" && gcc -std=c11 -g -shared -fPIC -Wall -Werror -o probe.so probe.c)
abidw --no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed \
  --out-file "$out" "$work/probe.so"
