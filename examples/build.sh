#!/usr/bin/env bash
# Rebuilds the bundled example objects (kept in the tree so the demo needs no compiler).
set -euo pipefail
cd "$(dirname "$0")"
for c in *.c; do
  clang-19 -O2 -g -target bpf -mcpu=v3 -Wall -Werror -fdebug-prefix-map="$PWD"=. \
    -I../include -I"/usr/include/$(uname -m)-linux-gnu" -c "$c" -o "${c%.c}.o"
done
