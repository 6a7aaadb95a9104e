#!/usr/bin/env bash
# `make test`'s check of the CMake package that `make install` writes: which versions
# find_package accepts, then this folder's CMakeLists.txt configured against the installed
# PREFIX, built with both imported targets, and each append_files appending two files
# against the local server; the object is then read back with a GET signed here.
#
# usage: cmake-check.sh PREFIX BUILD_DIR SERVER STATIC_LIBS   (run by the Makefile)
set -euo pipefail

prefix=$1 build=$2 server_binary=$3 static_libs=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$build"
mkdir -p "$build/versions"

# What the build below cannot show: that the version file takes this major up to the
# installed version and refuses the rest, and that the static target lists the system
# libraries one by one (glibc 2.34 and later would link without them, older ones not).
version=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' \
    "$prefix/lib/cmake/oss-append/oss-append-config-version.cmake")
IFS=. read -r major minor _ <<< "$version"
requests="$major.0 $version $((major - 1)).9 $major.$((minor + 1)) $((major + 1)).0"
cat > "$build/versions/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(versions NONE)
foreach(request $requests)
  find_package(oss-append \${request} CONFIG QUIET)
  message(STATUS "oss-append \${request}: \${oss-append_FOUND}")
  unset(oss-append_FOUND)
endforeach()
get_target_property(libs oss-append::static INTERFACE_LINK_LIBRARIES)
message(STATUS "oss-append static: \${libs}")
EOF
found=$(cmake -S "$build/versions" -B "$build/versions/build" -DCMAKE_PREFIX_PATH="$prefix" |
    sed -n 's/^-- oss-append //p' | tr '\n' ' ')
read -r same installed older newer next <<< "$requests"
want="$same: 1 $installed: 1 $older: 0 $newer: 0 $next: 0 static: ${static_libs// /;} "
if [ "$found" != "$want" ]; then
    echo "cmake-check: found '$found', want '$want'" >&2
    exit 1
fi

cmake -S "$here" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" > "$build/configure.log"
cmake --build "$build"
# The shared build finds the installed library by its SONAME; the static one has no trace of it.
# grep reads all of ldd's output (no -q): under pipefail, ldd killed by SIGPIPE when
# grep -q stops early would fail the check at random.
ldd "$build/append_files" | grep "liboss_append\.so\.[0-9]* => $prefix/lib/" >/dev/null
if ldd "$build/append_files_static" | grep oss_append >/dev/null; then
    echo "cmake-check: append_files_static needs liboss_append at run time" >&2
    exit 1
fi

bucket=cmake-check
export OSS_ACCESS_KEY_ID=cmake-ak OSS_ACCESS_KEY_SECRET=cmake-sk OSS_REGION=cn-hangzhou
unset OSS_SESSION_TOKEN
coproc SERVER { exec "$server_binary" --access-key-id "$OSS_ACCESS_KEY_ID" \
    --access-key-secret "$OSS_ACCESS_KEY_SECRET" --bucket "$bucket"; }
trap 'kill "$SERVER_PID"' EXIT
read -r line <&"${SERVER[0]}"
export OSS_ENDPOINT=${line#listening on }

# The object's bytes, by a V1-signed GET that does not go through the library.
get() {
    local date signature
    date=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
    signature=$(printf 'GET\n\n\n%s\n/%s/%s' "$date" "$bucket" "$1" |
        openssl dgst -sha1 -hmac "$OSS_ACCESS_KEY_SECRET" -binary | base64)
    curl -fsS -H "Date: $date" -H "Authorization: OSS $OSS_ACCESS_KEY_ID:$signature" \
        "$OSS_ENDPOINT/$bucket/$1"
}

head -c 300000 /dev/urandom > "$build/a.bin"
head -c 70000 /dev/urandom > "$build/b.bin"
for built in append_files:shared append_files_static:static; do
    program=${built%:*}
    out=$("$build/$program" "oss://$bucket/$program" "$build/a.bin" "$build/b.bin" 2>/dev/null)
    case $out in
        "oss://$bucket/$program length=370000 crc64="*) ;;
        *) echo "cmake-check: $program printed: $out" >&2; exit 1 ;;
    esac
    cmp <(get "$program") <(cat "$build/a.bin" "$build/b.bin")
    echo "cmake-check: $program, linked to oss-append::${built#*:}, stored its files"
done
