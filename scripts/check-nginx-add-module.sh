#!/usr/bin/env bash
# Checks that the top-level `config` works for a static build
# (./configure --add-module=...), not only for the dynamic one.
#
#   check-nginx-add-module.sh SOURCE_DIR WORK_DIR
#
# Debian's nginx-dev ships nginx's configure machinery and headers but not its
# .c files, so the final link of an nginx binary cannot happen here.  What can
# be checked, is: configure accepts the add-on and finds hiredis, the module is
# registered among nginx's static modules and linked with -lhiredis, and every
# object of the add-on compiles as static code under nginx's -Werror.
set -euo pipefail

src=$(cd "$1" && pwd)
work=$2
nginx_src=/usr/share/nginx/src

rm -rf "$work"
mkdir -p "$work"
cp -a "$nginx_src/." "$work/"
cd "$work"

# shellcheck disable=SC1091
. ./conf_flags

# with nginx's stream module built in, so that ngx_stream_tune_module is too
./configure "${NGX_CONF_FLAGS[@]}" --with-stream --add-module="$src" > configure.log 2>&1 \
    || { cat configure.log >&2; exit 1; }

fail() { echo "check-nginx-add-module: $*" >&2; exit 1; }

grep -q "ngx_http_tune_module was configured" configure.log \
    || fail "configure did not take the add-on"
grep -q '&ngx_http_tune_module,' objs/ngx_modules.c \
    || fail "ngx_http_tune_module is not among the static modules"
grep -q '&ngx_stream_tune_module,' objs/ngx_modules.c \
    || fail "ngx_stream_tune_module is not among the static modules"
grep -q -- '-lhiredis' objs/Makefile \
    || fail "nginx is not linked with -lhiredis"

objects=$(grep -o 'objs/addon/[A-Za-z0-9_/]*\.o' objs/Makefile | sort -u)
[ -n "$objects" ] || fail "no add-on objects in objs/Makefile"

# the same sources as the dynamic builds: both modules and all of core/src,
# once (built in, the two modules share the core's objects)
expected=$(ls "$src"/ngx_module/*.c "$src"/core/src/*.c | wc -l)
[ "$(echo "$objects" | wc -l)" -eq "$expected" ] \
    || fail "objs/Makefile builds $(echo "$objects" | wc -l) add-on objects, expected $expected"

# shellcheck disable=SC2086
make -f objs/Makefile $objects > make.log 2>&1 || { cat make.log >&2; exit 1; }

# built in, the stream module needs nginx's stream module built in too: with
# --with-stream=dynamic it is left out, with a notice (its objects would be
# linked into an nginx without the stream module's symbols)
mkdir -p "$work/dynamic-stream"
cp -a "$nginx_src/." "$work/dynamic-stream/"
(cd "$work/dynamic-stream" \
    && ./configure "${NGX_CONF_FLAGS[@]}" --with-stream=dynamic --add-module="$src") \
    > "$work/dynamic-stream.log" 2>&1 \
    || { cat "$work/dynamic-stream.log" >&2; exit 1; }
grep -q "ngx_stream_tune_module is left out" "$work/dynamic-stream.log" \
    || fail "--with-stream=dynamic --add-module: no notice that the stream module is left out"
! grep -q 'ngx_stream_tune_module' "$work/dynamic-stream/objs/ngx_modules.c" \
    "$work/dynamic-stream/objs/ngx_stream_module_modules.c" 2>/dev/null \
    || fail "--with-stream=dynamic --add-module: ngx_stream_tune_module is configured"

echo "check-nginx-add-module: $expected objects built for a static nginx"
