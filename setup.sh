#!/usr/bin/env bash
# Installs what performer needs (Debian 12 packages), builds it, and runs the main job or the tests.
#   bash setup.sh demo    install, build, run the main job on bundled data
#   bash setup.sh test    install, build, run the whole test suite (ctest)
#   bash setup.sh sanitize  the tests again under AddressSanitizer + UBSan and ThreadSanitizer, then
#                           the parsers' fuzz targets for a bounded time
#   bash setup.sh install | build      one step only
# Run as root (or with sudo) on Debian 12. Idempotent: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev libblis4-openmp libopenblas0-openmp libgloo-dev
  libseqan3-dev zlib1g-dev libbz2-dev libgoogle-perftools-dev
  qt6-base-dev qt6-svg-dev
  libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev
  mmseqs2-examples xvfb xauth
)
# Only for `sanitize`: libFuzzer comes with clang.
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

log() { printf '[setup] %s\n' "$*" >&2; }

install_packages() {
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
  else
    log "all packages present"
  fi
  # LibTorch's matrix products go through libblas.so.3. BLIS runs this project's products (skinny ones,
  # inner dimension 64-256) faster than OpenBLAS: a small-preset training step took 12% less time on
  # the 2-core development machine (README, Performance). The reference BLAS is ~80x slower than
  # either. PERFORMER_BLAS=openblas keeps OpenBLAS. LAPACK (the projections' QR) is OpenBLAS's.
  local want
  case ${PERFORMER_BLAS:-blis} in
    blis) want=/usr/lib/x86_64-linux-gnu/blis-openmp/libblas.so.3 ;;
    openblas) want=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ;;
    *) log "PERFORMER_BLAS must be blis or openblas, not '$PERFORMER_BLAS'"; exit 2 ;;
  esac
  local blas lapack
  blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/ {print $2}')
  if [[ $blas != "$want" ]]; then
    log "libblas.so.3 points to '${blas:-nothing}': switching it to $want"
    $sudo update-alternatives --set libblas.so.3-x86_64-linux-gnu "$want"
  fi
  lapack=$(update-alternatives --query liblapack.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/ {print $2}')
  if [[ $lapack != *openblas* ]]; then
    log "liblapack.so.3 points to '${lapack:-nothing}': switching it to OpenBLAS (openmp)"
    $sudo update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3
  fi
}

build() {
  log "building in $BUILD_DIR (Release, $JOBS jobs)"
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

demo() {
  local out=${OUT_DIR:-results}
  local performer="$BUILD_DIR/performer"
  mkdir -p "$out"
  "$performer" info
  "$performer" data stats datasets/uniprot_sample.fasta | sed -n '1,5p'
  # Mixed precision where the CPU multiplies bf16 natively (README, Training: --precision).
  local precision=fp32
  if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then precision=bf16; fi
  log "training a small Performer-ReLU masked protein LM on the bundled UniProt sample (a few minutes, $precision)"
  "$performer" train --data datasets/uniprot_sample.fasta --preset small --attention favor_relu \
    --precision "$precision" --max-length 512 --max-steps 60 --warmup 10 --eval-every 20 --eval-batches 10 --log-every 5 \
    --out "$out/demo-model.pt" --log "$out/demo-train.jsonl"
  log "scoring short sample proteins (pseudo-log-likelihood), attention maps and contacts of BPT1_BOVIN"
  awk 'BEGIN { RS = ">"; ORS = "" } NR > 1 { n = split($0, lines, "\n"); len = 0
       for (i = 2; i <= n; i++) len += length(lines[i])
       if (len <= 200 && kept < 8) { print ">" $0; kept++ } }' datasets/uniprot_sample.fasta > "$out/demo-proteins.fasta"
  "$performer" score "$out/demo-model.pt" "$out/demo-proteins.fasta" --out "$out/demo-scores.tsv"
  cat "$out/demo-scores.tsv"
  "$performer" attention "$out/demo-model.pt" --sequence datasets/bpt1_bovin.fasta --out "$out/bpt1-attention"
  if [[ -x $BUILD_DIR/performer-view ]]; then
    "$BUILD_DIR/performer-view" "$out/demo-model.pt" --render grid --out "$out/bpt1-attention-grid.png"
    log "attention maps drawn to $out/bpt1-attention-grid.png"
  fi
  log "attention benchmark: exact vs FAVOR+ vs dummy, bidirectional and causal (a few minutes)"
  "$performer" bench attention --lengths 1024,2048,4096,8192 --repeats 3 --csv "$out/bench-attention.csv"
  "$performer" bench approx --seeds 4 --csv "$out/bench-approx.csv"
  log "model, training log and tables written to $out/"
}

run_tests() {
  QT_QPA_PLATFORM=offscreen ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
}

# The core, bio and cli tests built with AddressSanitizer + UndefinedBehaviorSanitizer, then the bio
# tests (the loader's and the decompressors' threads) with ThreadSanitizer. Any report fails the test
# that caused it. LibTorch is not instrumented; LeakSanitizer is off (LibTorch's registries live until
# exit); OpenMP runs one thread under TSan (libgomp is not instrumented, so its threads would only give
# false reports).
sanitize() {
  local asan="$BUILD_DIR-asan" tsan="$BUILD_DIR-tsan"
  log "AddressSanitizer + UBSan build in $asan"
  cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=Release -DPERFORMER_SANITIZE=address,undefined \
        -DPERFORMER_BUILD_GUI=OFF >/dev/null
  cmake --build "$asan" -j "$JOBS"
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$asan" --output-on-failure -j "$JOBS"
  log "ThreadSanitizer build in $tsan"
  cmake -S . -B "$tsan" -DCMAKE_BUILD_TYPE=Release -DPERFORMER_SANITIZE=thread -DPERFORMER_BUILD_GUI=OFF \
        -DPERFORMER_BUILD_CLI=OFF >/dev/null
  cmake --build "$tsan" -j "$JOBS" --target bio_tests
  OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "$tsan" --output-on-failure -j "$JOBS" -R '^(Dataset|Fasta|Header|Matrix|Mutation|Split|Vocabulary)\.'
  log "fuzzing the parsers (libFuzzer, ${FUZZ_SECONDS:-60} s a target)"
  bash tests/fuzz/run.sh "${FUZZ_SECONDS:-60}" "$BUILD_DIR-fuzz"
}

[[ $# -gt 0 ]] || { sed -n '2,9p' "$0"; exit 2; }
for step in "$@"; do
  case $step in
    install) install_packages ;;
    build) build ;;
    demo) install_packages; build; demo ;;
    test) install_packages; build; run_tests ;;
    sanitize) install_packages "${FUZZ_PACKAGES[@]}"; sanitize ;;
    *) echo "setup.sh: unknown step '$step' (install, build, demo, test, sanitize)" >&2; exit 2 ;;
  esac
done
