#!/bin/sh
# Writes a C header holding a text file as one string, so that the one copy
# of a text (redis/herd_claim.lua) is compiled in, never checked in twice.
# Used by core/CMakeLists.txt and by nginx's `config`.
#
#   text-header.sh SOURCE NAME OUTPUT
#
# OUTPUT declares `static const char NAME[]`, the bytes of SOURCE with a
# newline ending every line.
set -e

src=$1
name=$2
out=$3

{
    echo "/* generated from $(basename "$src"); do not edit */"
    echo "static const char  $name[] ="
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$src"
    echo "    ;"
} > "$out.tmp"

mv "$out.tmp" "$out"
