//! The quick mode (see `roomkey_fuzz::quick`): every target, or those named, for
//! `FUZZ_QUICK_SECS` seconds each (default 20).
//!
//!   cargo run --bin quick -- [TARGET…]
//!
//! `FUZZ_QUICK_SEED` (a number, default 0) changes the inputs; `FUZZ_QUICK_EXECS` stops
//! each target after that many inputs, so a run can be repeated exactly;
//! `FUZZ_QUICK_HANG_MS` (default 2000, as `run.sh` gives AFL) is the longest one input may
//! take. Exits 1 when any target failed, after saving the input under `regressions/`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use roomkey_fuzz::quick::{self, Budget};

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(value) => Some(value),
        Err(_) => {
            eprintln!("{name}={text} is not a number");
            std::process::exit(2);
        }
    }
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seconds: f64 = env_number("FUZZ_QUICK_SECS").unwrap_or(20.0);
    let run_seed: u64 = env_number("FUZZ_QUICK_SEED").unwrap_or(0);
    let budget = Budget {
        time: Duration::from_secs_f64(seconds.max(0.0)),
        execs: env_number("FUZZ_QUICK_EXECS"),
        hang: Duration::from_millis(env_number("FUZZ_QUICK_HANG_MS").unwrap_or(2000)),
    };
    let names: Vec<String> = std::env::args().skip(1).collect();
    for name in &names {
        if !roomkey_fuzz::TARGETS.iter().any(|t| t.name == name) {
            eprintln!("no target {name}");
            return ExitCode::from(2);
        }
    }
    let started = Instant::now();
    println!(
        "quick fuzzing: {seconds} s per target, seed {run_seed}{}",
        budget
            .execs
            .map(|n| format!(", at most {n} inputs"))
            .unwrap_or_default()
    );
    let mut failed = Vec::new();
    for target in roomkey_fuzz::TARGETS {
        if !names.is_empty() && !names.iter().any(|n| n == target.name) {
            continue;
        }
        (target.prepare)();
        let mut seeds = quick::read_inputs(&root.join("corpus").join(target.name));
        seeds.extend(quick::read_inputs(
            &root.join("regressions").join(target.name),
        ));
        let dictionary = std::fs::read_to_string(root.join(format!("dict/{}.dict", target.name)))
            .map(|text| quick::parse_dict(&text))
            .unwrap_or_default();
        let tokens = dictionary.len();
        let outcome = quick::fuzz(
            target.run,
            seeds,
            dictionary,
            quick::target_seed(target, run_seed),
            budget,
        );
        let secs = outcome.elapsed.as_secs_f64();
        println!(
            "{:<18} {:>10} execs {:>8.0}/s  {:>5.1} s  slowest {:>6.1} ms  {:>3} tokens  {}",
            target.name,
            outcome.execs,
            outcome.execs as f64 / secs.max(1e-9),
            secs,
            outcome.slowest.as_secs_f64() * 1000.0,
            tokens,
            if outcome.failure.is_some() {
                "FAILED"
            } else {
                "ok"
            }
        );
        if let Some(failure) = outcome.failure {
            eprintln!(
                "{}: input {} failed: {}",
                target.name, failure.exec, failure.message
            );
            eprintln!(
                "input ({} bytes, hex): {}",
                failure.input.len(),
                hex::encode(&failure.input)
            );
            match quick::save_failure(root, target.name, &failure.input) {
                Ok(path) => eprintln!(
                    "saved as {} (cargo test replays it; commit it with the fix)",
                    path.display()
                ),
                Err(e) => eprintln!("could not save the input: {e}"),
            }
            failed.push(target.name);
        }
    }
    println!(
        "quick fuzzing took {:.0} s{}",
        started.elapsed().as_secs_f64(),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed: {}", failed.join(", "))
        }
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
