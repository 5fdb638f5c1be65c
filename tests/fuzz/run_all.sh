#!/bin/sh
# `make fuzz`: runs every fuzzer built in BUILD/tests/fuzz for SECONDS each,
# one after another, from its seed corpus (tests/fuzz/corpus/<name>), with
# its scratch corpus and any crash input in BUILD/tests/fuzz/work/<name>.
#   run_all.sh BUILD SECONDS
set -u
build=$1 seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
dir=$build/tests/fuzz
found=0 failed=""
for fuzzer in "$dir"/*_fuzz; do
  [ -f "$fuzzer" ] && [ -x "$fuzzer" ] || continue
  found=$((found + 1))
  name=$(basename "$fuzzer")
  "$here/run_fuzzer.sh" "$fuzzer" "$here/corpus/$name" "$dir/work/$name" "$seconds" ||
    failed="$failed $name"
done
if [ "$found" -eq 0 ]; then
  echo "no fuzzers in $dir: they need clang++ with libFuzzer (see tests/fuzz/CMakeLists.txt)"
  exit 1
fi
if [ -n "$failed" ]; then
  echo "fuzz: crashes in:$failed (inputs in $dir/work/<name>/crash-*)"
  exit 1
fi
echo "fuzz: $found fuzzers, ${seconds} s each, no crash"
