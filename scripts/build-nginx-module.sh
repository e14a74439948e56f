#!/usr/bin/env bash
# Builds ngx_http_tune_module.so for the nginx Debian ships, with Debian's
# own configure flags (nginx-dev), so that nginx accepts it in load_module.
#
#   build-nginx-module.sh SOURCE_DIR BUILD_DIR
#
# The module lands in BUILD_DIR/objs/ngx_http_tune_module.so.
set -euo pipefail

src=$(cd "$1" && pwd)
build=$2
nginx_src=/usr/share/nginx/src

if [ ! -x "$nginx_src/configure" ]; then
    echo "build-nginx-module: $nginx_src/configure not found;" \
         "install Debian's nginx-dev (scripts/install-deps.sh)" >&2
    exit 1
fi

# nginx's configure writes into its own tree: work on a copy
mkdir -p "$build"
if [ ! -f "$build/.copied" ] || [ "$nginx_src/conf_flags" -nt "$build/.copied" ]; then
    rm -rf "$build"
    mkdir -p "$build"
    cp -a "$nginx_src/." "$build/"
    touch "$build/.copied"
fi

cd "$build"

# shellcheck disable=SC1091
. ./conf_flags

# configure again when the config script or the set of sources changed
ls "$src"/config "$src"/core/src/*.c "$src"/ngx_module/*.c > sources.new
# (the config script also turns redis/herd_claim.lua into a header)
if [ ! -f objs/Makefile ] || [ "$src/config" -nt objs/Makefile ] \
        || [ "$src/redis/herd_claim.lua" -nt objs/Makefile ] \
        || [ "$src/core/text-header.sh" -nt objs/Makefile ] \
        || ! cmp -s sources.new sources.list; then
    ./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$src" \
        > configure.log 2>&1 || { cat configure.log >&2; exit 1; }
    mv sources.new sources.list
fi

make -f objs/Makefile modules > make.log 2>&1 || { cat make.log >&2; exit 1; }
