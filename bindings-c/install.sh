#!/bin/sh
# Installs libvmsystem into PREFIX: lib/libvmsystem.{so,a}, include/vmsystem.h,
# lib/pkgconfig/vmsystem.pc and lib/cmake/vmsystem/vmsystemConfig{,Version}.cmake.
# Both libraries export only the vms_* functions of the header. Needs binutils (ld, nm,
# objcopy, ar).
#
#   bindings-c/install.sh /usr/local          # after: cargo build --release -p vmsystem
#
# The library is taken from $CARGO_TARGET_DIR/release (default: the workspace target/).
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
target=${CARGO_TARGET_DIR:-$root/target}
release=$target/release
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
# What the static library needs besides libc (cargo rustc -- --print native-static-libs).
static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl"

for f in "$release/libvmsystem.so" "$release/libvmsystem.a" "$here/include/vmsystem.h"; do
    if [ ! -f "$f" ]; then
        echo "$f is missing: run 'cargo build --release -p vmsystem' first" >&2
        exit 1
    fi
done

mkdir -p "$prefix/lib/pkgconfig" "$prefix/lib/cmake/vmsystem" "$prefix/include"
install -m 0755 "$release/libvmsystem.so" "$prefix/lib/libvmsystem.so"
# The static library as cargo builds it exports every symbol of the bundled SQLite,
# QuickJS and Rust runtime: a host linking its own SQLite (-lsqlite3) would silently get
# ours. Link it into one relocatable object and keep only the vms_* functions global.
work=$(mktemp -d "${TMPDIR:-/tmp}/vmsystem-install.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
nm -D --defined-only "$release/libvmsystem.so" | awk '$3 ~ /^vms_/ {print $3}' > "$work/exports"
test -s "$work/exports"
ld -r --whole-archive "$release/libvmsystem.a" -o "$work/vmsystem.o"
# The embedded LLVM bitcode (.llvmbc) is not needed to link, and the LLVM plugins of
# binutils (ar, nm, ranlib) abort on bitcode newer than theirs: drop it.
objcopy --keep-global-symbols="$work/exports" \
    --remove-section=.llvmbc --remove-section=.llvmcmd "$work/vmsystem.o"
rm -f "$work/libvmsystem.a"
ar crs "$work/libvmsystem.a" "$work/vmsystem.o"
install -m 0644 "$work/libvmsystem.a" "$prefix/lib/libvmsystem.a"
install -m 0644 "$here/include/vmsystem.h" "$prefix/include/vmsystem.h"
mkdir -p "$prefix/share/licenses/vmsystem"
install -m 0644 "$here/LICENSE-MIT" "$here/LICENSE-APACHE" "$prefix/share/licenses/vmsystem/"

cat > "$prefix/lib/pkgconfig/vmsystem.pc" <<PC
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: vmsystem
Description: vm-system: sandboxed QuickJS runtimes with a SQLite audit trail (C API)
Version: $version
Libs: -L\${libdir} -lvmsystem
Libs.private: $static_libs
Cflags: -I\${includedir}
PC

cat > "$prefix/lib/cmake/vmsystem/vmsystemConfig.cmake" <<'CMAKE'
# vmsystem CMake package: find_package(vmsystem) gives the imported targets
# vmsystem::vmsystem (shared library) and vmsystem::static (static library).
get_filename_component(_vmsystem_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET vmsystem::vmsystem)
  add_library(vmsystem::vmsystem SHARED IMPORTED)
  set_target_properties(vmsystem::vmsystem PROPERTIES
    IMPORTED_LOCATION "${_vmsystem_prefix}/lib/libvmsystem.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_vmsystem_prefix}/include")
endif()
if(NOT TARGET vmsystem::static)
  add_library(vmsystem::static STATIC IMPORTED)
  set_target_properties(vmsystem::static PROPERTIES
    IMPORTED_LOCATION "${_vmsystem_prefix}/lib/libvmsystem.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_vmsystem_prefix}/include"
    INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;pthread;m;dl")
endif()
unset(_vmsystem_prefix)
CMAKE

cat > "$prefix/lib/cmake/vmsystem/vmsystemConfigVersion.cmake" <<CMAKE
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
CMAKE

echo "installed vmsystem $version into $prefix"
