//! `roomkey`: args → config → telemetry → App.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use roomkey::app::App;
use roomkey::clock::{Clock, SystemClock};
use roomkey::config::Config;
use roomkey::store::Store;
use roomkey::telemetry::{self, metrics::Metrics};
use roomkey::tokens::Keyring;

const USAGE: &str = "\
roomkey — token authority for paid Jitsi rooms

USAGE: roomkey [--config FILE] [COMMAND]

COMMANDS:
  serve          run the service (default)
  migrate        apply database migrations and exit
  keys rotate [--init]
                 add an RS256 signing key (published now, signing after keys.publish_before_use_secs);
                 --init creates the keyring when keys.dir holds none
  keys list      list the RS256 keys in force
  config check   validate the configuration and print it (secrets hidden)
  oidc client ID print the Synapse oidc_providers entry and Mastodon OIDC_* variables for
                 the OpenID client ID registered in [[oidc.clients]]
  oidc hash-secret
                 read a client secret on standard input, print its hash for secret_hash
  oidc rotate-key
                 publish a next ID-token key; run again 330 s or more later to sign with it
                 (the key before stays published)
  openapi [--out FILE]
                 print (or write to FILE, e.g. docs/openapi.json) the API contract, OpenAPI 3.1
  matrix appservice-registration [FILE]
                 print (or write to FILE) Synapse's application service registration

Configuration: defaults, then the TOML file (--config or ROOMKEY_CONFIG), then environment
variables ROOMKEY_<SECTION>__<KEY>, DATABASE_URL and REDIS_URL. See README.md.";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut config_file = std::env::var_os("ROOMKEY_CONFIG").map(PathBuf::from);
    if let Some(i) = args.iter().position(|a| a == "--config") {
        if i + 1 >= args.len() {
            eprintln!("--config needs a file\n\n{USAGE}");
            return ExitCode::from(2);
        }
        config_file = Some(PathBuf::from(args.remove(i + 1)));
        args.remove(i);
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let command: Vec<&str> = args.iter().map(String::as_str).collect();
    let config = match Config::load(config_file.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("roomkey: configuration error: {error:#}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("roomkey: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&command, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roomkey: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: &[&str], config: Config) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        [] | ["serve"] => App::build(config, clock).await?.run_until_stopped().await,
        ["migrate"] => {
            let metrics = Arc::new(Metrics::new(&[], "cli"));
            let store = Store::connect(&config.database.url, 1, metrics).await?;
            let applied = store.migrate().await?;
            println!(
                "applied {} migration(s){}",
                applied.len(),
                if applied.is_empty() {
                    String::new()
                } else {
                    format!(": {}", applied.join(", "))
                }
            );
            Ok(())
        }
        ["keys", "rotate", flags @ ..] => {
            let init = match flags {
                [] => false,
                ["--init"] => true,
                _ => anyhow::bail!("usage: roomkey keys rotate [--init]"),
            };
            let dir = existing_keyring_dir(&config, init)?;
            if !Keyring::exists(&dir) {
                let keyring = open_keyring(&config, clock)?;
                let set = keyring.current();
                println!(
                    "created a keyring in {} with key {}, signing now",
                    dir.display(),
                    set.signer.kid().unwrap_or("(no kid)")
                );
                return Ok(());
            }
            let keyring = open_keyring(&config, clock)?;
            let kid = keyring.rotate(config.keys.publish_before_use_secs)?;
            println!(
                "added key {kid} in {}; published now, signing in {} s (instances re-read keys every {} s)",
                dir.display(),
                config.keys.publish_before_use_secs,
                config.keys.reload_secs
            );
            Ok(())
        }
        ["keys", "list"] => {
            existing_keyring_dir(&config, false)?;
            let keyring = open_keyring(&config, clock)?;
            let set = keyring.current();
            println!("signing with {}", set.signer.kid().unwrap_or("(no kid)"));
            for key in &set.published {
                println!(
                    "{}  {}  activates_at={}  retired_at={:?}",
                    key.kid, key.file_name, key.activates_at, key.retired_at
                );
            }
            Ok(())
        }
        ["matrix", "appservice-registration", rest @ ..] if rest.len() <= 1 => {
            let yaml = roomkey::matrix::registration_yaml(&config.matrix)?;
            match rest.first() {
                Some(path) => {
                    write_private(path, &yaml)?;
                    println!(
                        "wrote {path}; list it in homeserver.yaml under app_service_config_files"
                    );
                }
                None => print!("{yaml}"),
            }
            Ok(())
        }
        ["oidc", "client", id] => {
            print!("{}", roomkey::oidc::snippets::client_snippets(&config, id)?);
            Ok(())
        }
        ["oidc", "rotate-key"] => {
            use roomkey::oidc::keys::{rotate, Rotation, PUBLISH_BEFORE_USE_SECS};
            let dir = std::path::absolute(config.keys.dir.join("oidc"))?;
            match rotate(&dir, clock.now(), PUBLISH_BEFORE_USE_SECS)? {
                Rotation::Staged { kid } => println!(
                    "published the next ID-token key {kid} in {}; run `roomkey oidc rotate-key` again in {PUBLISH_BEFORE_USE_SECS} s or later to sign with it",
                    dir.display()
                ),
                Rotation::TooSoon { kid, wait_secs } => anyhow::bail!(
                    "the next key {kid} was published too recently: relying parties may not have it yet; run again in {wait_secs} s"
                ),
                Rotation::Promoted { kid, previous } => println!(
                    "signing ID tokens with {kid} (instances re-read the keys within 10 s); {previous} stays published until the next rotation"
                ),
            }
            Ok(())
        }
        ["oidc", "hash-secret"] => {
            let mut secret = String::new();
            std::io::stdin().read_line(&mut secret)?;
            let secret = secret.trim_end_matches(['\r', '\n']).to_owned();
            anyhow::ensure!(
                secret.len() >= 32,
                "a client secret must be at least 32 characters"
            );
            println!("{}", roomkey::identity::password::hash(secret).await?);
            Ok(())
        }
        ["openapi"] => {
            print!("{}", roomkey::http::openapi::pretty());
            Ok(())
        }
        ["openapi", "--out", path] => {
            std::fs::write(path, roomkey::http::openapi::pretty())
                .map_err(|e| anyhow::anyhow!("cannot write {path}: {e}"))?;
            println!("wrote {path}");
            Ok(())
        }
        ["config", "check"] => {
            println!("{}", toml_like(&config));
            Ok(())
        }
        other => anyhow::bail!("unknown command {:?}\n\n{USAGE}", other.join(" ")),
    }
}

/// Writes a file only its owner can read: it holds the application service's tokens.
fn write_private(path: &str, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {path}: {e}"))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// The absolute keyring folder the server with this configuration uses. A `keys` command
/// run from another directory, or with another configuration, would otherwise change a
/// keyring the server never reads (`keys.dir` is relative by default), so one is created
/// only when asked (`--init`).
fn existing_keyring_dir(config: &Config, init: bool) -> anyhow::Result<std::path::PathBuf> {
    anyhow::ensure!(
        config.jitsi.signing == roomkey::config::SigningMode::Rs256,
        "signing keys rotate with RS256 only (jitsi.signing = \"rs256\"); this configuration signs with HS256"
    );
    let dir = std::path::absolute(&config.keys.dir)?;
    if !init && !Keyring::exists(&dir) {
        anyhow::bail!(
            "no RS256 keyring in {} (keys.dir = {}): run this with the server's own configuration \
             (--config FILE, the same ROOMKEY_KEYS__DIR, from the same directory), or create a \
             keyring there with `roomkey keys rotate --init`",
            dir.display(),
            config.keys.dir.display()
        );
    }
    Ok(dir)
}

fn open_keyring(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Keyring> {
    Keyring::open(
        config.jitsi.signing,
        &config.keys.dir,
        &config.jitsi.app_secret,
        config.jitsi.token_ttl_secs,
        clock,
    )
}

/// The effective configuration as JSON, with every secret blanked by `Secret`'s serialiser.
fn toml_like(config: &Config) -> String {
    serde_json::to_string_pretty(config).unwrap_or_default()
}
