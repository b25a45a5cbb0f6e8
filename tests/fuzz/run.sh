#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan) and runs each for a bounded time
# on its seed corpus (tests/fuzz/corpus/<target>/): bash tests/fuzz/run.sh [SECONDS_PER_TARGET] [OUT_DIR]
# A crash, a sanitizer report or an exception other than InputError fails the run; libFuzzer leaves
# the input that did it in OUT_DIR (make it a regression test). Prints executions per second and the
# coverage reached for each target.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${1:-60}
out=${2:-build-fuzz}
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
declare -A sources=(
  [mutation]="tests/fuzz/fuzz_mutation.cpp bio/mutation.cpp bio/vocabulary.cpp"
  [header]="tests/fuzz/fuzz_header.cpp bio/header.cpp"
  [io]="tests/fuzz/fuzz_io.cpp io/file.cpp io/json.cpp io/npy.cpp io/table.cpp"
  [prepared]="tests/fuzz/fuzz_prepared.cpp bio/prepared.cpp bio/split.cpp bio/header.cpp bio/vocabulary.cpp io/file.cpp io/json.cpp io/mapped_file.cpp io/checksum.cpp"
)
status=0
for target in mutation header io prepared; do
  # shellcheck disable=SC2086
  clang++ "${flags[@]}" ${sources[$target]} -o "$out/fuzz_$target"
  mkdir -p "$out/corpus-$target"
  log="$out/fuzz_$target.log"
  if ! (cd "$out" && ASAN_OPTIONS=detect_leaks=0 "./fuzz_$target" -max_total_time="$seconds" -max_len=4096 \
          -artifact_prefix="./$target-" "corpus-$target" "$root/tests/fuzz/corpus/$target" >"fuzz_$target.log" 2>&1); then
    echo "fuzz_$target: FAILED (see $log)"
    tail -30 "$log"
    status=1
  fi
  summary=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 || true)
  echo "fuzz_$target: ${summary:-no stats}"
done
exit $status
