#!/usr/bin/env bash
# Remakes the golden checkpoints and the recorded outputs of cli_tests' CliGolden tests. Run it after a
# deliberate change to the model, the tokens or the file formats, then read the diff of the text files.
#   bash tests/cli/golden/make.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
for objective in mlm ar; do
  # Small on purpose (d 32, 2 heads): the files are committed.
  "$build/performer" --threads 1 train --data "$root/datasets/uniprot_sample.fasta" --preset tiny \
    --d-model 32 --heads 2 --d-ff 64 --features 16 --objective "$objective" --attention favor_softmax \
    --max-length 128 --tokens-per-batch 2048 --max-steps 30 --warmup 5 --eval-every 0 --seed 7 \
    --out "$here/tiny-$objective.pt" > /dev/null
done
# The same checkpoint under another vocabulary name (same length, so the pickle stays valid).
python3 - "$here/tiny-mlm.pt" "$here/foreign-vocabulary.pt" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
    for item in zin.infolist():
        data = zin.read(item.filename)
        if item.filename.endswith("data.pkl"):
            data = data.replace(b"performer-protein-v1", b"performer-protein-v9")
        zout.writestr(item, data)
PY
PERFORMER_UPDATE_GOLDEN=1 "$build/tests/cli_tests" --gtest_filter='CliGolden.Every*' > /dev/null
echo "remade $(ls "$here" | wc -l) files in $here"
