//! `roomkey-bench-server`: the roomkey service plus the benchmark's sign-only ceiling,
//! `POST /bench/sign/{room}`, which signs a member token for anyone who asks — no session,
//! no lookup, no decision. It exists so `roomkey-bench` can measure the token path against
//! bare signing in the same process.
//!
//! It is a separate binary (the `roomkey` binary never serves that endpoint, whatever
//! features it was built with), it refuses to start unless every listener is on loopback,
//! and it says what it is on start-up. Configuration is the service's: defaults, then
//! `ROOMKEY_CONFIG`, then `ROOMKEY_*` environment variables.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use roomkey::app::App;
use roomkey::clock::{Clock, SystemClock};
use roomkey::config::Config;

const WARNING: &str = "\
roomkey-bench-server: THIS IS NOT THE ROOMKEY SERVICE. It serves POST /bench/sign/{room},
which hands a Jitsi token to anyone, for the benchmark only. Never deploy it.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(args.is_empty() || args == ["serve"]) {
        eprintln!("usage: roomkey-bench-server [serve]\n\n{WARNING}");
        return ExitCode::from(2);
    }
    let config_file = std::env::var_os("ROOMKEY_CONFIG").map(std::path::PathBuf::from);
    let config = match Config::load(config_file.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("roomkey-bench-server: configuration error: {error:#}");
            return ExitCode::from(2);
        }
    };
    for (setting, address) in [
        ("http.listen", &config.http.listen),
        ("http.ops_listen", &config.http.ops_listen),
    ] {
        let loopback = address.is_empty()
            || address
                .parse::<SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback());
        if !loopback {
            eprintln!(
                "roomkey-bench-server: refusing to start: {setting} = {address} is not a loopback address\n\n{WARNING}"
            );
            return ExitCode::from(2);
        }
    }
    eprintln!("{WARNING}");
    roomkey::telemetry::init(&config.log);
    tracing::warn!(
        "serving the unauthenticated benchmark endpoint POST /bench/sign/{{room}} on loopback"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roomkey-bench-server: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let result = runtime.block_on(async {
        App::build(config, clock)
            .await?
            .with_bench_sign_endpoint()
            .run_until_stopped()
            .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roomkey-bench-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}
