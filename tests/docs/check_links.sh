#!/usr/bin/env bash
# Checks the relative links of the documentation: README.md and docs/**/*.md.
#   bash tests/docs/check_links.sh [ROOT]      ROOT: the repository root (default: the current folder)
# Every [text](path) and [text](path#anchor) outside code must name an existing file or folder,
# relative to the Markdown file (or to ROOT when it starts with /). An anchor must match a heading of
# the target file (the same file for [text](#anchor)) by its GitHub-style slug: lower case, characters
# other than [a-z0-9 _-] dropped, spaces to '-', and -1, -2, ... for repeated headings.
# http://, https:// and mailto: links are not checked.
# Prints each broken link as `file: link` and exits 1; otherwise prints the count and exits 0.
# Uses bash, grep, sed and awk only.
set -uo pipefail

root=${1:-.}
cd "$root" 2>/dev/null || { echo "check_links: cannot enter '$root'" >&2; exit 2; }
shopt -s globstar nullglob

files=()
[[ -f README.md ]] && files+=(README.md)
for f in docs/**/*.md; do files+=("$f"); done
if ((${#files[@]} == 0)); then
  echo "check_links: no README.md or docs/**/*.md under '$root'" >&2
  exit 2
fi

# Fenced code blocks (``` or ~~~) hold no links and no headings.
readonly fence_awk='/^[ \t]*(```|~~~)/ { fence = !fence; next } fence { next }'

# The target of every inline link or image of a Markdown file, one per line. Lines are joined into
# paragraphs first, so link texts and code spans may wrap; inline code spans are then removed, and an
# optional title ("...") and <...> around the target are dropped.
link_targets() {
  awk '
    function links(text,    link) {
      gsub(/`[^`]*`/, "", text)
      while (match(text, /\[[^]]*\]\([^)]*\)/)) {
        link = substr(text, RSTART, RLENGTH)
        text = substr(text, RSTART + RLENGTH)
        sub(/^\[[^]]*\]\(/, "", link)
        sub(/\)$/, "", link)
        sub(/^[ \t]+/, "", link)
        sub(/[ \t].*$/, "", link)
        sub(/^</, "", link)
        sub(/>$/, "", link)
        if (link != "") print link
      }
    }
    /^[ \t]*(```|~~~)/ { links(para); para = ""; fence = !fence; next }
    fence { next }
    /^[ \t]*$/ { links(para); para = ""; next }
    { para = para " " $0 }
    END { links(para) }' "$1"
}

# The GitHub-style slug of every ATX heading (# to ######) of a Markdown file, one per line.
heading_slugs() {
  awk "$fence_awk"'
    /^( |  |   )?#+([ \t]|$)/ {
      h = $0
      sub(/^ *#+[ \t]*/, "", h)
      sub(/[ \t]+#+[ \t]*$/, "", h)
      sub(/[ \t]+$/, "", h)
      h = tolower(h)
      gsub(/[^a-z0-9 _-]/, "", h)
      gsub(/ /, "-", h)
      n = seen[h]++
      print (n ? h "-" n : h)
    }' "$1"
}

declare -A slugs  # target file -> its heading slugs, newline-separated
has_anchor() {    # has_anchor FILE ANCHOR
  local file=$1 anchor=$2
  [[ -f $file ]] || return 1
  [[ -v slugs[$file] ]] || slugs[$file]=$(heading_slugs "$file")
  grep -qxF -- "$anchor" <<<"${slugs[$file]}"
}

checked=0
broken=0
for file in "${files[@]}"; do
  dir=.
  [[ $file == */* ]] && dir=${file%/*}
  while IFS= read -r link; do
    case $link in
      http://* | https://* | mailto:*) continue ;;
    esac
    checked=$((checked + 1))
    path=${link%%#*}
    anchor=
    [[ $link == *#* ]] && anchor=${link#*#}
    path=${path//%20/ }
    if [[ -z $path ]]; then
      target=$file
    elif [[ $path == /* ]]; then
      target=.$path
    else
      target=$dir/$path
    fi
    ok=1
    if [[ ! -e $target ]]; then
      ok=0
    elif [[ -n $anchor ]] && ! has_anchor "$target" "$anchor"; then
      ok=0
    fi
    if ((ok == 0)); then
      echo "$file: $link"
      broken=$((broken + 1))
    fi
  done < <(link_targets "$file")
done

if ((broken > 0)); then
  echo "check_links: $broken of $checked relative links broken" >&2
  exit 1
fi
echo "check_links: $checked relative links in ${#files[@]} files, all resolve"
exit 0
