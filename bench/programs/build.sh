#!/bin/sh
# Rebuilds the benchmark programs from their C sources. The .o files are committed so
# `npm run bench` needs no compiler.
# Usage: bench/programs/build.sh   (from anywhere; needs clang-19 and libbpf headers)
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang-19}
CFLAGS="-O2 -g -mcpu=v3 -I/usr/include/$(uname -m)-linux-gnu"
for src in sieve memcpy switch checksum; do
  $CLANG $CFLAGS -target bpf -c "$src.c" -o "$src.o"
done
