//! The quick mode: every target for a few seconds, without AFL, with plain cargo.
//!
//! For each target the seeds (`corpus/<target>/` and `regressions/<target>/`) run first,
//! then inputs made from them by a stack of simple mutations (bit flips, byte changes,
//! inserts and deletes, the target's dictionary tokens from `dict/`, duplicated chunks,
//! truncation, splices of two inputs) until the time budget is spent. Each input goes
//! through the target's own `run`, so the same invariants hold as under AFL: a panic is a
//! failure, and so is one input that takes longer than the hang limit. A failing input is
//! printed in hex and saved under `regressions/<target>/`, where `cargo test` replays it.
//!
//! There is no coverage feedback: this finds what is a few edits away from a seed, in
//! seconds, and is no substitute for the AFL runs. The mutations come from a xorshift
//! generator seeded from a fixed value, the target's name and `FUZZ_QUICK_SEED`, so the
//! same seed makes the same inputs in the same order.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use crate::Target;

/// xorshift64*: small, fast and reproducible, which is all mutation needs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so that nearby seeds start far apart; never zero.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// FNV-1a, for seeding by name and naming saved inputs.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The tokens of an AFL dictionary: one `"…"` (optionally `name="…"`) a line, with `\\`,
/// `\"` and `\xNN` escapes; comments and blank lines skipped.
pub fn parse_dict(text: &str) -> Vec<Vec<u8>> {
    let mut tokens = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (Some(start), Some(end)) = (line.find('"'), line.rfind('"')) else {
            continue;
        };
        if end <= start {
            continue;
        }
        let quoted = &line.as_bytes()[start + 1..end];
        let mut token = Vec::with_capacity(quoted.len());
        let mut i = 0;
        while i < quoted.len() {
            match quoted[i] {
                b'\\' if quoted.get(i + 1) == Some(&b'x') => {
                    let byte = quoted
                        .get(i + 2..i + 4)
                        .and_then(|hex| std::str::from_utf8(hex).ok())
                        .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                    match byte {
                        Some(byte) => {
                            token.push(byte);
                            i += 4;
                        }
                        None => {
                            token.push(b'\\');
                            i += 1;
                        }
                    }
                }
                b'\\' if i + 1 < quoted.len() => {
                    token.push(quoted[i + 1]);
                    i += 2;
                }
                byte => {
                    token.push(byte);
                    i += 1;
                }
            }
        }
        if !token.is_empty() {
            tokens.push(token);
        }
    }
    tokens
}

/// Tokens every target gets besides its dictionary: separators and the integers at which
/// arithmetic breaks.
const GENERIC_TOKENS: &[&[u8]] = &[
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b"\xe2\x80\xae",
    b" ",
    b"\n",
    b"\r\n",
    b"=",
    b".",
    b",",
    b":",
    b"\"",
    b"\\",
    b"%",
    b"-",
    b"0",
    b"-1",
    b"1800000000",
    b"4294967296",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"1e308",
    b"null",
];

const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, b'0', b'9', b' ', b'"', b'%', b'.', b'=', b'+', b'&', b'\n',
];

/// Makes inputs from a pool of seeds.
pub struct Mutator {
    rng: Rng,
    seeds: Vec<Vec<u8>>,
    /// Recent mutants, so that edits stack over several generations.
    recent: Vec<Vec<u8>>,
    tokens: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    pub fn new(seed: u64, seeds: Vec<Vec<u8>>, dictionary: Vec<Vec<u8>>) -> Self {
        let longest = seeds.iter().map(Vec::len).max().unwrap_or(0);
        let mut tokens = dictionary;
        tokens.extend(GENERIC_TOKENS.iter().map(|t| t.to_vec()));
        Mutator {
            rng: Rng::new(seed),
            seeds: if seeds.is_empty() {
                vec![Vec::new()]
            } else {
                seeds
            },
            recent: Vec::new(),
            tokens,
            max_len: (2 * longest).max(4096),
        }
    }

    fn pick(&mut self) -> &[u8] {
        if !self.recent.is_empty() && self.rng.chance(4) {
            let i = self.rng.below(self.recent.len());
            &self.recent[i]
        } else {
            let i = self.rng.below(self.seeds.len());
            &self.seeds[i]
        }
    }

    /// The next input, written into `out`.
    pub fn next_into(&mut self, out: &mut Vec<u8>) {
        out.clear();
        let base = self.pick().to_vec();
        out.extend_from_slice(&base);
        let stack = 1 << self.rng.below(4);
        for _ in 0..stack {
            self.mutate(out);
        }
        out.truncate(self.max_len);
        if self.rng.chance(8) {
            if self.recent.len() < 256 {
                self.recent.push(out.clone());
            } else {
                let i = self.rng.below(self.recent.len());
                self.recent[i].clone_from(out);
            }
        }
    }

    fn position(&mut self, data: &[u8]) -> usize {
        self.rng.below(data.len() + 1)
    }

    fn mutate(&mut self, data: &mut Vec<u8>) {
        let rng = &mut self.rng;
        match rng.below(12) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next_u64() as u8;
            }
            2 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            3 if !data.is_empty() => {
                let i = rng.below(data.len());
                let delta = 1 + rng.below(16) as u8;
                data[i] = if rng.chance(2) {
                    data[i].wrapping_add(delta)
                } else {
                    data[i].wrapping_sub(delta)
                };
            }
            4 => {
                let at = self.position(data);
                let count = 1 + self.rng.below(4);
                for _ in 0..count {
                    data.insert(at, self.rng.next_u64() as u8);
                }
            }
            5 if !data.is_empty() => {
                let at = rng.below(data.len());
                let most = if rng.chance(8) { data.len() } else { 16 };
                let len = 1 + rng.below(most.min(data.len() - at));
                data.drain(at..at + len);
            }
            6 | 7 => {
                let token = self.tokens[self.rng.below(self.tokens.len())].clone();
                let at = self.position(data);
                if self.rng.chance(2) || at + token.len() > data.len() {
                    data.splice(at..at, token);
                } else {
                    data[at..at + token.len()].copy_from_slice(&token);
                }
            }
            8 if !data.is_empty() => {
                let from = rng.below(data.len());
                let len = 1 + rng.below((data.len() - from).min(64));
                let chunk = data[from..from + len].to_vec();
                let times = if rng.chance(16) { 2 + rng.below(64) } else { 1 };
                let at = self.position(data);
                for _ in 0..times {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            9 if !data.is_empty() => {
                let len = rng.below(data.len());
                data.truncate(len);
            }
            10 | 11 => {
                let at = self.position(data);
                let other = self.pick().to_vec();
                let from = self.rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                let at = self.position(data);
                data.insert(at, self.rng.next_u64() as u8);
            }
        }
    }
}

/// How long each target runs.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    /// Stop after this many inputs, if sooner (for replaying a run exactly).
    pub execs: Option<u64>,
    /// One input that takes longer is a failure, like a hang under AFL.
    pub hang: Duration,
}

#[derive(Debug)]
pub struct Failure {
    /// Which input of the run, counting the seeds (0-based).
    pub exec: u64,
    pub input: Vec<u8>,
    pub message: String,
}

#[derive(Debug)]
pub struct Outcome {
    pub execs: u64,
    pub elapsed: Duration,
    pub slowest: Duration,
    pub failure: Option<Failure>,
}

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
}
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// While a target runs here, a panic's message is kept for the report instead of printed;
/// elsewhere panics print as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(Cell::get) {
                let message = match info.payload().downcast_ref::<&str>() {
                    Some(text) => (*text).to_owned(),
                    None => info
                        .payload()
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "a panic without a message".to_owned()),
                };
                let at = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(format!("panicked at {at}: {message}"));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs one input; the panic message if it panicked.
fn run_one(run: fn(&[u8]), input: &[u8]) -> Result<(), String> {
    CAPTURING.with(|c| c.set(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(input)));
    CAPTURING.with(|c| c.set(false));
    outcome.map_err(|_| {
        LAST_PANIC
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| "panicked".to_owned())
    })
}

/// Runs the seeds, then mutants of them until the budget is spent or an input fails.
pub fn fuzz(
    run: fn(&[u8]),
    seeds: Vec<Vec<u8>>,
    dictionary: Vec<Vec<u8>>,
    seed: u64,
    budget: Budget,
) -> Outcome {
    install_panic_hook();
    let started = Instant::now();
    let mut execs = 0u64;
    let mut slowest = Duration::ZERO;
    let mut check = |input: &[u8], execs: &mut u64| -> Option<Failure> {
        let exec = *execs;
        *execs += 1;
        let began = Instant::now();
        let result = run_one(run, input);
        let took = began.elapsed();
        slowest = slowest.max(took);
        let message = match result {
            Err(message) => message,
            Ok(()) if took > budget.hang => format!(
                "took {} ms, over the hang limit of {} ms",
                took.as_millis(),
                budget.hang.as_millis()
            ),
            Ok(()) => return None,
        };
        Some(Failure {
            exec,
            input: input.to_vec(),
            message,
        })
    };
    let mut failure = None;
    for input in &seeds {
        failure = check(input, &mut execs);
        if failure.is_some() {
            break;
        }
    }
    if failure.is_none() {
        let mut mutator = Mutator::new(seed, seeds, dictionary);
        let mut input = Vec::new();
        while started.elapsed() < budget.time && budget.execs.is_none_or(|most| execs < most) {
            mutator.next_into(&mut input);
            failure = check(&input, &mut execs);
            if failure.is_some() {
                break;
            }
        }
    }
    Outcome {
        execs,
        elapsed: started.elapsed(),
        slowest,
        failure,
    }
}

/// The files of a folder, sorted by name (none if it is missing).
pub fn read_inputs(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

/// Where a failing input of `target` is kept: `regressions/<target>/quick-<hash>`.
pub fn save_failure(root: &Path, target: &str, input: &[u8]) -> std::io::Result<PathBuf> {
    let dir = root.join("regressions").join(target);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("quick-{:016x}", fnv1a(input)));
    std::fs::write(&path, input)?;
    Ok(path)
}

/// The generator's seed for one target: a fixed value, the target's name, and the run's.
pub fn target_seed(target: &Target, run_seed: u64) -> u64 {
    0x726f_6f6d_6b65_7921 ^ fnv1a(target.name.as_bytes()) ^ Rng::new(run_seed).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_reproducible() {
        let a: Vec<u64> = (0..8)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..8)
            .scan(Rng::new(7), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..8)
            .scan(Rng::new(8), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut rng = Rng::new(0);
        assert!((0..1000).all(|_| rng.below(3) < 3));
    }

    #[test]
    fn dictionaries_parse_as_afl_reads_them() {
        let text = "# comment\n\"plain\"\nname=\"a\\x00b\\\"c\\\\\"\n\n\"\\x4\"\n";
        assert_eq!(
            parse_dict(text),
            vec![b"plain".to_vec(), b"a\x00b\"c\\".to_vec(), b"\\x4".to_vec()]
        );
    }

    #[test]
    fn the_same_seed_makes_the_same_inputs() {
        let seeds = vec![
            b"hello=world&x=1".to_vec(),
            Vec::new(),
            b"{\"a\":2}".to_vec(),
        ];
        let inputs = |seed| {
            let mut m = Mutator::new(seed, seeds.clone(), vec![b"TOKEN".to_vec()]);
            let mut out = Vec::new();
            (0..500)
                .map(|_| {
                    m.next_into(&mut out);
                    out.clone()
                })
                .collect::<Vec<_>>()
        };
        let first = inputs(1);
        assert_eq!(first, inputs(1));
        assert_ne!(first, inputs(2));
        assert!(first.iter().any(|i| i.windows(5).any(|w| w == b"TOKEN")));
        assert!(first.iter().all(|i| i.len() <= 4096));
    }

    fn fails_on_a_tilde(data: &[u8]) {
        assert!(!data.contains(&b'~'), "a tilde");
    }

    #[test]
    fn a_panic_is_reported_with_its_input() {
        let budget = Budget {
            time: Duration::from_secs(10),
            execs: Some(100_000),
            hang: Duration::from_secs(10),
        };
        let outcome = fuzz(
            fails_on_a_tilde,
            vec![b"abc".to_vec()],
            Vec::new(),
            3,
            budget,
        );
        let failure = outcome.failure.expect("a mutant with a tilde");
        assert!(failure.input.contains(&b'~'));
        assert!(failure.message.contains("a tilde"), "{}", failure.message);
        assert_eq!(failure.exec + 1, outcome.execs);
        let again = fuzz(
            fails_on_a_tilde,
            vec![b"abc".to_vec()],
            Vec::new(),
            3,
            budget,
        );
        assert_eq!(
            again.failure.expect("the same failure").input,
            failure.input
        );
    }
}
