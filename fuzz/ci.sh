#!/usr/bin/env bash
# The short fuzzing step for CI: replays the corpus as plain tests, then builds every
# target with AFL++ instrumentation and fuzzes each for FUZZ_SECONDS (default 20).
# Fails on any failing test, crash or hang. Installs cargo-afl from crates.io when the
# pinned version is missing (that also builds AFL++ itself, about two minutes).
#
#   FUZZ_SECONDS=20 FUZZ_TARGET_DIR=/tmp/roomkey-fuzz-target fuzz/ci.sh [TARGET…]
#
# FUZZ_TARGET_DIR keeps the instrumented build outside a fresh clone, so a second run
# on the same machine only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")"
AFL_VERSION=0.18.2
seconds="${FUZZ_SECONDS:-20}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
started=$SECONDS

if ! cargo afl --version 2>/dev/null | grep -q "cargo-afl $AFL_VERSION"; then
  echo "installing cargo-afl $AFL_VERSION"
  cargo install --locked --quiet cargo-afl --version "$AFL_VERSION"
fi
# The runtime is built per Rust version; after a toolchain change it must be rebuilt.
if ! cargo afl fuzz -h >/dev/null 2>&1; then
  cargo afl config --build --force
fi

# The corpus through plain `cargo test`, in the root's target folder when the caller
# shares it (its dependencies are already built there).
CARGO_TARGET_DIR="${FUZZ_TEST_TARGET_DIR:-$CARGO_TARGET_DIR}" cargo test --locked

cargo afl build --locked --release --features afl --bins 2>&1 | grep -v '^\s*Compiling' || true
[[ ${PIPESTATUS[0]} -eq 0 ]]
echo "built in $((SECONDS - started)) s"

targets=("$@")
if (( ${#targets[@]} == 0 )); then
  mapfile -t targets < <(find src/bin -name '*.rs' -printf '%f\n' | sed 's/\.rs$//' | sort)
fi
failed=0
rm -rf out/ci && mkdir -p out/ci
for target in "${targets[@]}"; do
  # A fresh output folder per CI run, seeded from the committed corpus.
  rm -rf "out/$target"
  ./run.sh "$target" -V "$seconds" || failed=1
done
echo "fuzzing step took $((SECONDS - started)) s"
exit "$failed"
