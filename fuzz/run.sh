#!/usr/bin/env bash
# Fuzzes one target with AFL++ and reports what it found.
#
#   fuzz/run.sh TARGET [-V SECONDS | -E EXECUTIONS] [more afl-fuzz options]
#
# Needs the targets built first (`cargo afl build --release --features afl --bins`, as
# fuzz/ci.sh does). Findings go to fuzz/out/TARGET/default/{crashes,hangs}; a second run
# of the same target resumes from its queue (FUZZ_OUT names another folder than out/).
# Exits 1 when the run left any crash or hang.
set -euo pipefail
cd "$(dirname "$0")"
target="${1:?usage: fuzz/run.sh TARGET [afl-fuzz options]}"
shift
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/$target"
[[ -x "$bin" ]] || { echo "no $bin: build the targets first" >&2; exit 2; }
out="${FUZZ_OUT:-out}/$target"
mkdir -p "${FUZZ_OUT:-out}"
input="corpus/$target"
# Resume where an earlier run stopped.
[[ -f "$out/default/fuzzer_stats" ]] && input=-
dict=()
[[ -f "dict/$target.dict" ]] && dict=(-x "dict/$target.dict")

# No UI in logs; containers pipe core dumps and share cores, which afl-fuzz would refuse.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
# A slow machine or a busy neighbour must not turn into false hangs: 2 s per input.
cargo afl fuzz -i "$input" -o "$out" -t 2000 "${dict[@]}" "$@" -- "$bin" >"$out.log" 2>&1 \
  || { tail -n 30 "$out.log" >&2; exit 2; }

stats="$out/default/fuzzer_stats"
value() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
count() { find "$out/default/$1" -maxdepth 1 -type f -name 'id:*' 2>/dev/null | wc -l; }
crashes=$(count crashes)
hangs=$(count hangs)
printf '%-18s %12s execs %8s/s  %5s in corpus  %s crashes  %s hangs  (%ss)\n' "$target" \
  "$(value execs_done)" "$(value execs_per_sec)" "$(value corpus_count)" "$crashes" "$hangs" \
  "$(value run_time)"
if (( crashes + hangs > 0 )); then
  echo "$target: replay with: $bin < $out/default/crashes/<file>" >&2
  exit 1
fi
