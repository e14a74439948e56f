#!/usr/bin/env bash
# Builds ngx_http_tune_module.so for the nginx Debian ships, with Debian's
# own configure flags (nginx-dev), so that nginx accepts it in load_module.
#
#   build-nginx-module.sh SOURCE_DIR BUILD_DIR [EXTRA_FLAGS]
#
# The module lands in BUILD_DIR/objs/ngx_http_tune_module.so.  EXTRA_FLAGS
# (one word list, e.g. the sanitizer flags of -DTUNESLOT_SANITIZE=ON) are
# given to nginx's configure as --with-cc-opt and --with-ld-opt, so they
# reach both the compilation and the link of the module.
set -euo pipefail

src=$(cd "$1" && pwd)
build=$2
extra=${3:-}
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

# configure again when the config script, the set of sources or the extra
# flags changed
{ ls "$src"/config "$src"/core/src/*.c "$src"/ngx_module/*.c
  echo "extra flags: $extra"; } > sources.new
# (the config script also turns redis/herd_claim.lua into a header)
if [ ! -f objs/Makefile ] || [ "$src/config" -nt objs/Makefile ] \
        || [ "$src/redis/herd_claim.lua" -nt objs/Makefile ] \
        || [ "$src/core/text-header.sh" -nt objs/Makefile ] \
        || ! cmp -s sources.new sources.list; then
    opts=()
    if [ -n "$extra" ]; then
        opts=(--with-cc-opt="$extra" --with-ld-opt="$extra")
    fi
    # Debian builds its stream module apart (libnginx-mod-stream): its
    # headers are in nginx-dev, and --with-stream=dynamic makes configure
    # build ngx_stream_tune_module against them (nginx's own stream module
    # is not made: its sources are not in nginx-dev)
    ./configure "${NGX_CONF_FLAGS[@]}" "${opts[@]}" --with-stream=dynamic \
        --add-dynamic-module="$src" \
        > configure.log 2>&1 || { cat configure.log >&2; exit 1; }
    mv sources.new sources.list
fi

make -f objs/Makefile objs/ngx_http_tune_module.so objs/ngx_stream_tune_module.so \
    > make.log 2>&1 || { cat make.log >&2; exit 1; }
