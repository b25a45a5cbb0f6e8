#!/usr/bin/env bash
# Download a UniProt sequence set and check its MD5 checksum.
# Needs network access; nothing in the build or the tests calls it.
#
# Run with --help for usage.
set -euo pipefail

prog="fetch_uniprot.sh"
die() { echo "$prog: error: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

usage() {
    cat <<EOF
Usage: $prog [--out DIR] [--mirror URL] DATASET

Download one UniProt FASTA file (resuming a partial download when there is
one) and verify it against the MD5 checksum that UniProt publishes next to it.

DATASET is one of:
  uniref50    uniref/uniref50/uniref50.fasta.gz
  uniref90    uniref/uniref90/uniref90.fasta.gz
  uniref100   uniref/uniref100/uniref100.fasta.gz
  swissprot   current_release/knowledgebase/complete/uniprot_sprot.fasta.gz
  trembl      current_release/knowledgebase/complete/uniprot_trembl.fasta.gz

Options:
  --out DIR     folder to write into (default: current folder; created if needed)
  --mirror URL  base of the UniProt tree (default: $default_mirror)
                other official copies: https://ftp.ebi.ac.uk/pub/databases/uniprot
                and https://ftp.expasy.org/databases/uniprot
  -h, --help    show this text

Checksums come from the RELEASE.metalink file in the same remote folder (it
lists the size and MD5 of every file there); when that file has no entry for
the download, a plain 'md5' file in the folder is tried instead.
After a successful check, DIR/<file>.md5 records the verified checksum, and a
second run with the same release does nothing.

Uses curl (or wget when curl is missing), awk and md5sum. Exit status is 0 on
success and non-zero, with a one-line message, on any failure.
EOF
}

default_mirror="https://ftp.uniprot.org/pub/databases/uniprot"
mirror="${UNIPROT_MIRROR:-$default_mirror}"
out="."
dataset=""

while (($#)); do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --out) [[ $# -ge 2 && -n "$2" ]] || die "--out needs a folder"; out="$2"; shift ;;
        --out=*) out="${1#--out=}"; [[ -n "$out" ]] || die "--out needs a folder" ;;
        --mirror) [[ $# -ge 2 && -n "$2" ]] || die "--mirror needs a URL"; mirror="$2"; shift ;;
        --mirror=*) mirror="${1#--mirror=}"; [[ -n "$mirror" ]] || die "--mirror needs a URL" ;;
        -*) die "unknown option '$1' (try --help)" ;;
        *) [[ -z "$dataset" ]] || die "only one DATASET at a time (try --help)"; dataset="$1" ;;
    esac
    shift
done
[[ -n "$dataset" ]] || die "no DATASET given; usage: $prog [--out DIR] [--mirror URL] uniref50|uniref90|uniref100|swissprot|trembl (see --help)"
mirror="${mirror%/}"

case "$dataset" in
    uniref50|uniref90|uniref100)
        folder="uniref/$dataset"; file="$dataset.fasta.gz" ;;
    swissprot|sprot|uniprot_sprot)
        folder="current_release/knowledgebase/complete"; file="uniprot_sprot.fasta.gz" ;;
    trembl|uniprot_trembl)
        folder="current_release/knowledgebase/complete"; file="uniprot_trembl.fasta.gz" ;;
    *) die "unknown DATASET '$dataset' (expected uniref50, uniref90, uniref100, swissprot or trembl)" ;;
esac

command -v md5sum >/dev/null 2>&1 || die "md5sum not found"
command -v awk >/dev/null 2>&1 || die "awk not found"
if command -v curl >/dev/null 2>&1; then
    fetcher=curl
elif command -v wget >/dev/null 2>&1; then
    fetcher=wget
else
    die "neither curl nor wget is installed"
fi

# get URL DEST: fetch a small file whole (overwriting DEST).
get() {
    if [[ "$fetcher" == curl ]]; then
        curl -fsSL --retry 3 -o "$2" "$1"
    else
        wget -q --tries=3 -O "$2" "$1"
    fi
}

# resume URL DIR: continue (or start) a large download into DIR/<basename>.
# A progress meter is shown only on a terminal; otherwise the tools stay
# quiet and a failure is reported by the single line from die().
resume() {
    local quiet=()
    if [[ "$fetcher" == curl ]]; then
        [[ -t 2 ]] || quiet=(-s)
        (cd "$2" && curl -fL ${quiet[@]+"${quiet[@]}"} --retry 5 --retry-delay 10 -C - -O "$1")
    else
        [[ -t 2 ]] || quiet=(-q)
        wget -c ${quiet[@]+"${quiet[@]}"} --tries=5 -P "$2" "$1"
    fi
}

# metalink_entry FILE NAME: print "MD5 SIZE" for NAME (SIZE may be empty).
metalink_entry() {
    awk -v name="$2" '
        { doc = doc " " $0 }
        END {
            key = "<file name=\"" name "\">"
            i = index(doc, key)
            if (!i) exit 1
            rest = substr(doc, i + length(key))
            j = index(rest, "</file>")
            if (j) rest = substr(rest, 1, j - 1)
            md5 = ""; size = ""
            if (match(rest, /<hash type="md5">[ \t]*[0-9A-Fa-f]+/)) {
                md5 = substr(rest, RSTART, RLENGTH)
                sub(/.*>[ \t]*/, "", md5)
            }
            if (match(rest, /<size>[ \t]*[0-9]+/)) {
                size = substr(rest, RSTART, RLENGTH)
                sub(/.*>[ \t]*/, "", size)
            }
            if (length(md5) != 32) exit 1
            print tolower(md5), size
        }' "$1"
}

# md5file_entry FILE NAME: print "MD5" for NAME from an md5sum-style (or
# BSD "MD5 (name) = hash") listing.
md5file_entry() {
    awk -v name="$2" '
        {
            hit = 0; hex = ""
            for (k = 1; k <= NF; k++) {
                t = $k
                sub(/^[*]/, "", t); sub(/^[.][\/]/, "", t)
                sub(/^[(]/, "", t); sub(/[)]$/, "", t)
                if (t == name) hit = 1
                if (length($k) == 32 && $k ~ /^[0-9A-Fa-f]+$/) hex = $k
            }
            if (hit && hex != "") { print tolower(hex); found = 1; exit }
        }
        END { if (!found) exit 1 }' "$1"
}

filesize() { wc -c < "$1" | awk '{ print $1 }'; }

mkdir -p -- "$out" || die "cannot create output folder $out"
[[ -w "$out" ]] || die "output folder $out is not writable"

base="$mirror/$folder"
url="$base/$file"
dest="$out/$file"
sidecar="$dest.md5"
tmpdir="$(mktemp -d)"
trap 'rm -rf "$tmpdir"' EXIT

# 1. Expected checksum (and size, when the metalink gives one).
want_md5=""
want_size=""
release=""
if get "$base/RELEASE.metalink" "$tmpdir/RELEASE.metalink" 2>"$tmpdir/get.err"; then
    if entry="$(metalink_entry "$tmpdir/RELEASE.metalink" "$file")"; then
        read -r want_md5 want_size <<<"$entry"
        cp -- "$tmpdir/RELEASE.metalink" "$out/RELEASE.metalink.$dataset"
    fi
    release="$(awk 'match($0, /<version>[^<]*<\/version>/) { v = substr($0, RSTART + 9, RLENGTH - 19); print v; exit }' "$tmpdir/RELEASE.metalink")"
fi
if [[ -z "$want_md5" ]]; then
    if get "$base/md5" "$tmpdir/md5" 2>>"$tmpdir/get.err" \
        && want_md5="$(md5file_entry "$tmpdir/md5" "$file")"; then
        cp -- "$tmpdir/md5" "$out/md5.$dataset"
    else
        want_md5=""
    fi
fi
if [[ -z "$want_md5" ]]; then
    why="$(awk 'NF { last = $0 } END { print last }' "$tmpdir/get.err")"
    die "no MD5 for $file in $base/RELEASE.metalink or $base/md5${why:+ ($why)}"
fi
say "$file: release ${release:-unknown}, expected md5 $want_md5${want_size:+, $want_size bytes}"

# 2. Nothing to do when this exact file was verified before.
if [[ -f "$dest" && -f "$sidecar" ]] \
    && [[ "$(awk '{ print tolower($1); exit }' "$sidecar")" == "$want_md5" ]] \
    && { [[ -z "$want_size" ]] || [[ "$(filesize "$dest")" == "$want_size" ]]; }; then
    say "$dest is already downloaded and verified"
    echo "$dest"
    exit 0
fi
if [[ -f "$sidecar" ]]; then
    # The file was verified for an earlier release: resuming would mix the
    # two, so fetch the new one from scratch.
    say "$dest belongs to an earlier release; downloading the new one"
    rm -f -- "$dest" "$sidecar"
fi

# 3. Download, resuming a partial file. A file that is already as large as
#    (or larger than) the published size is not requested again.
have_size=0
[[ -f "$dest" ]] && have_size="$(filesize "$dest")"
if [[ -n "$want_size" && "$have_size" -gt "$want_size" ]]; then
    say "$dest is larger than the published size; starting over"
    rm -f -- "$dest"
    have_size=0
fi
if [[ -n "$want_size" && "$have_size" -eq "$want_size" ]]; then
    say "$dest already has the published size; checking it"
else
    say "downloading $url"
    rc=0
    resume "$url" "$out" || rc=$?
    [[ "$rc" -eq 0 ]] || die "download of $url failed ($fetcher exit status $rc; run again to resume)"
fi
if [[ -n "$want_size" ]]; then
    got_size="$(filesize "$dest")"
    [[ "$got_size" == "$want_size" ]] \
        || die "$dest has $got_size bytes, expected $want_size (run again to resume)"
fi

# 4. Verify.
say "checking md5 of $dest"
(cd "$out" && printf '%s  %s\n' "$want_md5" "$file" | md5sum -c --status -) \
    || die "md5 mismatch for $dest (delete it and run again)"
printf '%s  %s\n' "$want_md5" "$file" > "$sidecar"
say "ok: $dest"
echo "$dest"
