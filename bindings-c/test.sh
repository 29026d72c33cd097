#!/bin/sh
# Builds and tests the C ABI from a clean checkout; exits non-zero on any failure.
#
#  1. cargo build --release -p vmsystem (honours CARGO_TARGET_DIR; default: workspace target/)
#     and the Rust unit tests of the boundary (panic guard, code mapping);
#  2. checks that the build left include/vmsystem.h unchanged (it is generated and committed);
#  3. checks that the header compiles as C99 and as C++;
#  4. installs into a temporary prefix (bindings-c/install.sh);
#  5. builds the C tests against the installed shared and static libraries and runs them,
#     including every case of tests/conformance/;
#     checks that the static library exports only vms_* and links beside -lsqlite3;
#  6. runs the tests once more under valgrind (no leaks, no invalid accesses, and no
#     suppression file);
#  7. builds the C and C++ quick starts and the README snippet with pkg-config, and the C
#     quick start with CMake (find_package), and runs them.
#
# VMS_SKIP_VALGRIND=1 skips step 6 (for machines without valgrind).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
CC=${CC:-cc}
CXX=${CXX:-c++}
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "build libvmsystem (release) into $CARGO_TARGET_DIR"
cargo build --release -p vmsystem
cargo test --release -p vmsystem --lib

step "generated header is up to date"
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    if ! git -C "$root" diff --exit-code -- bindings-c/include/vmsystem.h; then
        echo "bindings-c/include/vmsystem.h changed during the build: commit the regenerated header" >&2
        exit 1
    fi
else
    echo "(not a git checkout: skipped)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vmsystem-c.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
prefix=$work/prefix

step "header compiles as C99 and C++"
printf '#include <vmsystem.h>\nint main(void) { return vms_error_code(NULL); }\n' > "$work/header.c"
"$CC" -std=c99 -Wall -Wextra -Werror -pedantic -I"$here/include" -c "$work/header.c" -o "$work/header.o"
"$CXX" -std=c++11 -Wall -Wextra -Werror -pedantic -I"$here/include" -x c++ -c "$work/header.c" -o "$work/header-cpp.o"

step "install into $prefix"
"$here/install.sh" "$prefix"

step "C tests against the shared and the static library"
make -C "$here" --no-print-directory PREFIX="$prefix" BUILD="$work/tests" tests run-shared run-static

step "libvmsystem.a exports only vms_*, and links beside the system SQLite"
leaked=$(nm -g --defined-only "$prefix/lib/libvmsystem.a" | awk 'NF == 3 && $3 !~ /^vms_/ {print $3}')
if [ -n "$leaked" ]; then
    echo "libvmsystem.a exports symbols other than vms_*:" >&2
    echo "$leaked" | head -n 20 >&2
    exit 1
fi
make -C "$here" --no-print-directory PREFIX="$prefix" BUILD="$work/tests" run-symbols

if [ "${VMS_SKIP_VALGRIND:-0}" = 1 ]; then
    step "valgrind: skipped (VMS_SKIP_VALGRIND=1)"
else
    step "C tests under valgrind"
    make -C "$here" --no-print-directory PREFIX="$prefix" BUILD="$work/tests" valgrind
fi

step "examples and README snippet with pkg-config"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists vmsystem
# shellcheck disable=SC2046 # pkg-config output is meant to be split
"$CC" -std=c99 -Wall -Wextra -Werror -o "$work/quickstart-c" "$root/examples/c/quickstart.c" $(pkg-config --cflags --libs vmsystem)
# shellcheck disable=SC2046
"$CXX" -std=c++17 -Wall -Wextra -Werror -o "$work/quickstart-cpp" "$root/examples/cpp/quickstart.cpp" $(pkg-config --cflags --libs vmsystem)
awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' "$here/README.md" > "$work/readme.c"
test -s "$work/readme.c"
# shellcheck disable=SC2046
"$CC" -std=c99 -Wall -Wextra -Werror -o "$work/readme" "$work/readme.c" $(pkg-config --cflags --libs vmsystem)
LD_LIBRARY_PATH="$prefix/lib" "$work/quickstart-c" "$work/quickstart.db"
LD_LIBRARY_PATH="$prefix/lib" "$work/quickstart-cpp"
(cd "$work" && LD_LIBRARY_PATH="$prefix/lib" ./readme)

if command -v cmake >/dev/null 2>&1; then
    step "C quick start with CMake find_package(vmsystem)"
    cmake -S "$root/examples/c" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build "$work/cmake" >/dev/null
    LD_LIBRARY_PATH="$prefix/lib" "$work/cmake/quickstart" >/dev/null
    "$work/cmake/quickstart_static" >/dev/null
fi

step "C ABI: all checks passed"
