//! Configuration: TOML and `ROOMKEY_*` environment variables through figment into
//! `config::Config`, then `Config::validate`.
//!
//! The input is TOML text, then optionally a NUL byte and `KEY=VALUE` lines that become
//! `ROOMKEY_KEY=VALUE` for this one load. The providers are merged as `Config::load`
//! merges them (defaults, the file, `ROOMKEY_` with `__` as the separator, `DATABASE_URL`,
//! `REDIS_URL`); `tests/corpus.rs` checks that this agrees with `Config::load` on the
//! corpus. Secret files are not read (they name paths on the host, not input).
//! Invariants: loading and validating never panic; validation is deterministic and a
//! refusal names a setting; a loaded config written out and loaded again is the same
//! config.

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use roomkey::config::Config;

const PREFIX: &str = "ROOMKEY_";

pub fn prepare() {}

/// The providers in `Config::load`'s order, with `toml` as the file.
pub fn figment(toml: &str) -> Figment {
    Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(toml))
        .merge(Env::prefixed(PREFIX).split("__").ignore(&["config"]))
        .merge(
            Env::raw()
                .only(&["database_url"])
                .map(|_| "database.url".into()),
        )
        .merge(Env::raw().only(&["redis_url"]).map(|_| "redis.url".into()))
}

pub fn run(data: &[u8]) {
    let (toml, env) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(toml) = std::str::from_utf8(toml) else {
        return;
    };
    let variables = variables(env);
    for (key, value) in &variables {
        std::env::set_var(key, value);
    }
    let loaded = figment(toml).extract::<Config>();
    for (key, _) in &variables {
        std::env::remove_var(key);
    }
    let Ok(config) = loaded else {
        return;
    };
    let checked = config.validate();
    if let Err(error) = &checked {
        assert!(!error.setting.is_empty() && !error.problem.is_empty());
    }
    assert_eq!(config.validate().is_ok(), checked.is_ok());
    let _ = config.reuses_signed_tokens();
    // Written out and read back, the config is the same (secrets are never written out,
    // so they compare as written: empty).
    let written = serde_json::to_value(&config).expect("a config serialises");
    let reread: Config = Figment::from(Serialized::defaults(&config))
        .extract()
        .expect("a loaded config loads again");
    assert_eq!(serde_json::to_value(&reread).unwrap(), written);
}

/// `ROOMKEY_`-prefixed variables from `KEY=VALUE` lines; lines that could not be set as an
/// environment variable (empty key, `=` or NUL in it) are skipped, as a shell would.
fn variables(env: &[u8]) -> Vec<(String, String)> {
    let Ok(text) = std::str::from_utf8(env) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(key, value)| {
            !key.is_empty() && !key.contains(['=', '\0']) && !value.contains('\0')
        })
        .take(8)
        .map(|(key, value)| (format!("{PREFIX}{key}"), value.to_owned()))
        .collect()
}
