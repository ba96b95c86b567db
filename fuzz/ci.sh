#!/usr/bin/env bash
# Short fuzzing runs. By default: replays the corpus as plain tests, then builds every
# target with AFL++ instrumentation and fuzzes each for FUZZ_SECONDS (default 20).
# Fails on any failing test, crash or hang. Installs cargo-afl from crates.io when the
# pinned version is missing (that also builds AFL++ itself, about two minutes).
#
#   FUZZ_SECONDS=20 FUZZ_TARGET_DIR=/tmp/roomkey-fuzz-target fuzz/ci.sh [TARGET…]
#
# FUZZ_TARGET_DIR keeps the instrumented build outside a fresh clone, so a second run
# on the same machine only rebuilds what changed.
#
#   FUZZ_QUICK_SECS=20 fuzz/ci.sh --quick [TARGET…]
#
# The quick mode needs no AFL: plain `cargo test` here, then the `quick` binary, which
# mutates each target's seeds for FUZZ_QUICK_SECS seconds (see src/quick.rs). Both use
# one plain build, in FUZZ_TEST_TARGET_DIR when set (else target/ here).
set -euo pipefail
cd "$(dirname "$0")"

if [[ "${1:-}" == --quick ]]; then
  shift
  started=$SECONDS
  export CARGO_TARGET_DIR="${FUZZ_TEST_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}}"
  # Not `--locked`, for the reason given below.
  cargo build --quiet --tests --bin quick
  echo "built in $((SECONDS - started)) s"
  cargo test --quiet
  status=0
  "$CARGO_TARGET_DIR/debug/quick" "$@" || status=$?
  echo "quick fuzzing step took $((SECONDS - started)) s"
  exit "$status"
fi
AFL_VERSION=0.18.2
seconds="${FUZZ_SECONDS:-20}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
started=$SECONDS

if ! cargo afl --version 2>/dev/null | grep -q "cargo-afl $AFL_VERSION"; then
  echo "installing cargo-afl $AFL_VERSION"
  cargo install --locked --quiet cargo-afl --version "$AFL_VERSION"
fi
# AFL++ is built per Rust version (the version line names it only when it is built for
# this one); after a toolchain change it must be built again.
if ! cargo afl --version | grep -q 'AFL++ version'; then
  cargo afl config --build --force
fi

# Not `--locked`: fuzz/Cargo.lock keeps its versions, and cargo adds to it only what a
# new dependency of the service needs, so a change to the root Cargo.lock does not break
# this step.
# The corpus through plain `cargo test`, in the root's target folder when the caller
# shares it (its dependencies are already built there).
CARGO_TARGET_DIR="${FUZZ_TEST_TARGET_DIR:-$CARGO_TARGET_DIR}" cargo test

cargo afl build --quiet --release --features afl --bins
echo "built in $((SECONDS - started)) s"

targets=("$@")
if (( ${#targets[@]} == 0 )); then
  mapfile -t targets < <(find src/bin -name '*.rs' -printf '%f\n' | sed 's/\.rs$//' | sort)
fi
failed=0
# A fresh output folder per CI run, seeded from the committed corpus; long runs in out/
# are left alone.
export FUZZ_OUT=out/ci
rm -rf "$FUZZ_OUT"
for target in "${targets[@]}"; do
  ./run.sh "$target" -V "$seconds" || failed=1
done
echo "fuzzing step took $((SECONDS - started)) s"
exit "$failed"
