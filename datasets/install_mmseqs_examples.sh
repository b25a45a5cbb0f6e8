#!/usr/bin/env bash
# Make the full MMseqs2 example data (20,000 UniProtKB sequences in DB.fasta.gz
# and 500 queries in QUERY.fasta.gz) available in a local folder.
#
# Usage: datasets/install_mmseqs_examples.sh [--copy] [TARGET_DIR]
#
#   TARGET_DIR  where DB.fasta.gz and QUERY.fasta.gz should appear
#               (default: datasets/mmseqs2, next to this script)
#   --copy      copy the files instead of making symbolic links
#
# Steps:
#   1. If Debian's mmseqs2-examples package is not installed, install it with
#      apt-get (through sudo when not running as root).
#   2. Find the two files under /usr/share/doc/mmseqs2/example-data.  If the
#      system is set up to drop /usr/share/doc (a dpkg path-exclude rule, as
#      in some container images), unpack the package's .deb into TARGET_DIR
#      instead.
#   3. Link (or copy) the files into TARGET_DIR and print their paths and
#      record counts.
# Running it again changes nothing that is already in place.
set -euo pipefail

prog="install_mmseqs_examples.sh"
die() { echo "$prog: $*" >&2; exit 1; }

usage() {
    cat <<EOF
Usage: $prog [--copy] [TARGET_DIR]

Install Debian's mmseqs2-examples package when it is missing and put
DB.fasta.gz (20,000 UniProtKB sequences) and QUERY.fasta.gz (500 sequences)
into TARGET_DIR (default: datasets/mmseqs2). Links are made unless --copy.
EOF
}

src="${BASH_SOURCE[0]}"
[[ "$src" == */* ]] || src="./$src"
here="$(cd "${src%/*}" && pwd)"

mode="link"
target=""
while (($#)); do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --copy) mode="copy" ;;
        --link) mode="link" ;;
        --) shift; [[ $# -le 1 ]] || die "too many arguments (see --help)"; target="${1:-}"; break ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) [[ -z "$target" ]] || die "too many arguments (see --help)"; target="$1" ;;
    esac
    shift
done
target="${target:-$here/mmseqs2}"

pkg=mmseqs2-examples
sysdir=/usr/share/doc/mmseqs2/example-data
files=(DB.fasta.gz QUERY.fasta.gz)

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

installed() {
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'
}

have_all() {
    local d="$1" f
    for f in "${files[@]}"; do [[ -s "$d/$f" ]] || return 1; done
}

command -v apt-get >/dev/null 2>&1 || command -v dpkg-query >/dev/null 2>&1 \
    || die "this helper needs a Debian-based system (apt-get/dpkg not found)"

if ! installed; then
    echo "$prog: installing $pkg with apt-get" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" \
        || { as_root apt-get update && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg"; } \
        || die "apt-get could not install $pkg"
fi

mkdir -p -- "$target"
target="$(cd "$target" && pwd)"

srcdir="$sysdir"
if ! have_all "$srcdir"; then
    # Package is installed but its /usr/share/doc files were filtered out by
    # dpkg. Unpack the .deb ourselves (once) into a hidden folder.
    unpacked="$target/.deb"
    srcdir="$unpacked$sysdir"
    if ! have_all "$srcdir"; then
        echo "$prog: $sysdir is missing files; unpacking the $pkg .deb instead" >&2
        command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found"
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
        (cd "$work" && apt-get download "$pkg" >/dev/null) || die "apt-get download $pkg failed"
        deb="$(find "$work" -maxdepth 1 -name "${pkg}_*.deb" -print -quit)"
        [[ -n "$deb" ]] || die "apt-get download produced no .deb for $pkg"
        rm -rf -- "$unpacked"
        mkdir -p -- "$unpacked"
        dpkg-deb -x "$deb" "$unpacked" || die "could not unpack $deb"
        have_all "$srcdir" || die "$pkg does not contain ${files[*]} under $sysdir"
    fi
fi

for f in "${files[@]}"; do
    from="$srcdir/$f"
    to="$target/$f"
    if [[ "$mode" == link ]]; then
        if [[ -L "$to" && "$(readlink -- "$to")" == "$from" ]]; then
            :
        else
            rm -f -- "$to"
            ln -s -- "$from" "$to"
        fi
    else
        if [[ -f "$to" && ! -L "$to" ]] && cmp -s -- "$from" "$to"; then
            :
        else
            rm -f -- "$to"
            cp -- "$from" "$to"
        fi
    fi
done

for f in "${files[@]}"; do
    n="$(zcat -- "$target/$f" | grep -c '^>')" || die "could not read $target/$f"
    printf '%s\t%s records\n' "$target/$f" "$n"
done
