#!/usr/bin/env bash
# Builds tuneslot's Debian packages from this tree, offline, with Debian's
# own tools: libnginx-mod-http-tune, libapache2-mod-tune and tuneslotd, and
# the source package they come from (debian/; dpkg-buildpackage, debhelper,
# nginx-dev's dh-sequence-nginx, apache2-dev's dh_apache2), then checks them
# all with lintian, failing on any error or warning that is not overridden.
#
#   scripts/package.sh            build into build-deb/ and lint
#
# The tree's files (tracked, and new ones not ignored) are copied to a
# directory of its own in /tmp and built there; the packages land in
# build-deb/, and neither the tree nor its parent directory gets other
# build products.  DEB_BUILD_OPTIONS=nocheck skips
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
rm -rf "$out"
mkdir -p "$out"

# Built in a directory of our own naming, not under the tree: nginx's
# build system takes a path component that starts with ".S" (a tree cloned
# into /tmp/ci.Sx1Q, say) for an assembler source and renames it, and the
# module's build then looks for its objects where there are none.  No dot
# comes before the random part here.
work=$(mktemp -d "/tmp/tuneslot-deb-XXXXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/tuneslot-$version
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

# the packages, the source package and the .changes that names them
find "$work" -maxdepth 1 -type f -exec mv -t "$out" {} +

changes=$out/tuneslot_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
echo "package.sh: lintian $changes" >&2
lintian --fail-on error,warning --display-info --info "$changes"

ls -1 "$out"/*.deb
