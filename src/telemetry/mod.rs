//! Logs and metrics.
//!
//! Logs are `tracing` events; nothing logs a token, a password or a secret — only ids
//! such as `kid`, `jti` and user ids. They go to standard error, so a command's output
//! alone is on standard output (`roomkey keys rotate | …`), and carry colour only when
//! standard error is a terminal, so captured log files hold no escape codes. Metrics live
//! in [`metrics`].

pub mod metrics;

use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(config: &LogConfig) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false);
    let _ = if config.format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
