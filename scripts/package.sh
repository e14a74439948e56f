#!/usr/bin/env bash
# Builds tuneslot's Debian packages from this tree, offline, with Debian's
# own tools: libnginx-mod-http-tune, libapache2-mod-tune and tuneslotd, and
# the source package they come from (debian/; dpkg-buildpackage, debhelper,
# nginx-dev's dh-sequence-nginx, apache2-dev's dh_apache2), then checks them
# all with lintian, failing on any error or warning that is not overridden.
#
#   scripts/package.sh            build into build-deb/ and lint
#
# The tree's files (tracked, and new ones not ignored) are copied to
# build-deb/tuneslot-VERSION/ and built there, so neither the tree nor its
# parent directory gets build products.  DEB_BUILD_OPTIONS=nocheck skips
# the build's tests (the unit tests and the nginx -t load of the module).
# Installs what is missing (scripts/install-deps.sh); sudo only when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh debhelper lintian dpkg-dev

# every build dependency of debian/control must be there by now
dpkg-checkbuilddeps

# one version: the changelog's is the project's
version=$(dpkg-parsechangelog -S Version)
project=$(sed -n 's/^project(tuneslot VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
if [ "$version" != "$project" ]; then
    echo "package.sh: debian/changelog says $version but CMakeLists.txt says $project" >&2
    exit 1
fi

out=$PWD/build-deb
src=$out/tuneslot-$version
rm -rf "$out"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from=- --create --file=- \
    | tar --extract --file=- --directory="$src"

echo "package.sh: building in $src (log: $out/build.log)" >&2
if ! (cd "$src" && dpkg-buildpackage --build=full --no-sign) > "$out/build.log" 2>&1; then
    tail -n 60 "$out/build.log" >&2
    echo "package.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
    exit 1
fi

changes=$out/tuneslot_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
echo "package.sh: lintian $changes" >&2
lintian --fail-on error,warning --display-info --info "$changes"

ls -1 "$out"/*.deb
