#!/usr/bin/env bash
# Rebuild datasets/uniprot_sample.fasta from the MMseqs2 example database that
# Debian ships in the mmseqs2-examples package.
#
# Usage: datasets/make_sample.sh [DB.fasta.gz [OUTPUT.fasta]]
#
# Defaults:
#   DB.fasta.gz   /usr/share/doc/mmseqs2/example-data/DB.fasta.gz
#   OUTPUT.fasta  datasets/uniprot_sample.fasta (next to this script)
#
# Selection rule (see datasets/README.md):
#   1. Read the records of DB.fasta.gz in file order.
#   2. A record passes when its sequence is 30..1000 residues long and uses
#      only the letters ACDEFGHIKLMNPQRSTVWYXBZUO.
#   3. Number the passing records 1, 2, 3, ... and keep number p when
#      p % 9 == 1 (the 1st, 10th, 19th, ... passing record).
#   4. Headers are kept as they are, except that a trailing " Split=N" field
#      (and any whitespace after it) is removed.  Sequences are wrapped at 60.
#   5. The hand-written record in datasets/bpt1_bovin.fasta goes first.
#
# Only bash, zcat, awk and md5sum are used (plus mv/rm for the output file);
# awk runs under LC_ALL=C and uses POSIX features only.
set -euo pipefail

src="${BASH_SOURCE[0]}"
[[ "$src" == */* ]] || src="./$src"
here="$(cd "${src%/*}" && pwd)"
db="${1:-/usr/share/doc/mmseqs2/example-data/DB.fasta.gz}"
out="${2:-$here/uniprot_sample.fasta}"
first="$here/bpt1_bovin.fasta"

[[ -r "$db" ]] || { echo "make_sample.sh: cannot read $db (apt-get install mmseqs2-examples, or datasets/install_mmseqs_examples.sh)" >&2; exit 1; }
[[ -r "$first" ]] || { echo "make_sample.sh: cannot read $first" >&2; exit 1; }

export LC_ALL=C
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# The first input (bpt1_bovin.fasta) is copied whole; the second ("-", the
# decompressed database on stdin) is filtered and thinned.
zcat -- "$db" | awk -v every=9 -v minlen=30 -v maxlen=1000 -v width=60 '
function flush(   n, i) {
    if (head == "") return
    n = length(seq)
    ok = (n >= minlen && n <= maxlen && seq !~ /[^ACDEFGHIKLMNPQRSTVWYXBZUO]/)
    if (fileno == 1) {
        if (!ok) { print "make_sample.sh: bad record in first file: " head > "/dev/stderr"; bad = 1 }
        keep = 1
    } else if (ok) {
        passed++
        keep = (passed % every == 1)
    } else {
        keep = 0
    }
    if (keep) {
        print head
        for (i = 1; i <= n; i += width) print substr(seq, i, width)
        kept++
    }
    head = ""; seq = ""
}
FNR == 1 { flush(); fileno++ }
{ sub(/\r$/, "") }
/^>/ {
    flush()
    head = $0
    sub(/[ \t]+Split=[0-9]+[ \t]*$/, "", head)
    next
}
{ gsub(/[ \t]/, ""); seq = seq $0 }
END {
    flush()
    if (bad) exit 1
    printf "make_sample.sh: %d records written (%d of the database passed the filter)\n", kept, passed > "/dev/stderr"
}
' "$first" - > "$tmp"

mv -f -- "$tmp" "$out"
trap - EXIT
printf 'make_sample.sh: wrote %s (md5 %s)\n' "$out" "$(md5sum < "$out" | awk '{print $1}')" >&2
