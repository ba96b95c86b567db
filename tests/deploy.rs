//! `docker/` as far as a machine without a container engine can check it: the compose file
//! parses and validates (Debian's `docker-compose` does that without a daemon), every
//! variable it uses is in `.env.example`, and every image, in it and in the Dockerfile, is
//! pinned to a version.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn docker(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docker")
        .join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names in `${NAME}`, `${NAME:-…}` and `${NAME:?…}` references (`$$` escapes skipped).
fn variables(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            rest = escaped;
            continue;
        }
        if let Some(inner) = after.strip_prefix('{') {
            let name: String = inner
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
        rest = after;
    }
    names
}

fn env_example_names() -> BTreeSet<String> {
    read(&docker(".env.example"))
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn every_variable_compose_uses_is_in_the_env_example() {
    let compose = read(&docker("compose.yaml"));
    // Comments may name variables too; they count, so the documentation cannot drift either.
    let used = variables(&compose);
    assert!(used.len() > 10, "{used:?}");
    let listed = env_example_names();
    let missing: Vec<_> = used.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "used in compose.yaml, not in .env.example: {missing:?}"
    );
    let unused: Vec<_> = listed.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "in .env.example, unused by compose.yaml: {unused:?}"
    );
}

/// A reference pinned to a version: a tag that names one (`16.6-bookworm`, `stable-10978`,
/// `v2.53.3`) or a digest; never a bare name, `latest` or a moving `stable`.
fn is_pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let name = image.rsplit('/').next().unwrap();
    let Some((_, tag)) = name.split_once(':') else {
        return false;
    };
    !matches!(
        tag,
        "latest" | "stable" | "unstable" | "main" | "bookworm" | "slim"
    ) && tag.chars().any(|c| c.is_ascii_digit())
}

#[test]
fn every_image_is_pinned() {
    let compose = read(&docker("compose.yaml"));
    let images: Vec<_> = compose
        .lines()
        .filter_map(|line| line.trim().strip_prefix("image: "))
        .map(str::trim)
        .collect();
    assert!(images.len() >= 10, "{images:?}");
    let dockerfile = read(&docker("Dockerfile"));
    let bases: Vec<_> = dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("FROM "))
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(bases.len(), 2, "{bases:?}");
    for image in images.iter().chain(&bases) {
        // The image compose builds from the Dockerfile is local, never pulled.
        if *image == "roomkey:local" {
            continue;
        }
        assert!(is_pinned(image), "{image} is not pinned to a version");
    }
    assert!(!is_pinned("redis"));
    assert!(!is_pinned("jitsi/web:stable"));
    assert!(!is_pinned("postgres:latest"));
}

#[test]
fn the_dockerfile_runs_unprivileged_with_a_health_check() {
    let dockerfile = read(&docker("Dockerfile"));
    let runtime = dockerfile
        .split("AS runtime")
        .nth(1)
        .expect("a runtime stage");
    assert!(runtime.contains("USER 10001:10001"));
    assert!(runtime.contains("HEALTHCHECK"));
    assert!(runtime.contains("/healthz"));
}

#[test]
fn compose_validates_with_the_env_example() {
    let available = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        eprintln!(
            "skipped: docker-compose is not on PATH (Debian: apt-get install docker-compose)"
        );
        return;
    }
    // The example as it is (secrets empty) and as gen-secrets.sh fills it both validate.
    let work = tempfile::tempdir().unwrap();
    let env = work.path().join(".env");
    std::fs::copy(docker(".env.example"), &env).unwrap();
    let output = Command::new("docker-compose")
        .arg("--env-file")
        .arg(&env)
        .arg("--file")
        .arg(docker("compose.yaml"))
        .args(["config", "--quiet"])
        .env_remove("COMPOSE_FILE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "docker-compose config:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let warnings = String::from_utf8_lossy(&output.stderr);
    assert!(
        !warnings.contains("variable is not set"),
        "a variable compose.yaml uses is missing: {warnings}"
    );
}

/// The replicas' entrypoint as their container's shell receives it (compose's `$$` escape
/// undone).
fn replica_entrypoint() -> Vec<String> {
    let compose = read(&docker("compose.yaml"));
    let line = compose
        .lines()
        .map(str::trim_start)
        .find(|line| line.starts_with("entrypoint:") && line.contains("roomkey serve"))
        .expect("the replicas' entrypoint starts `roomkey serve`");
    let list = line.trim_start_matches("entrypoint:").trim();
    let args: Vec<String> = serde_json::from_str(list).expect("a flow list of strings");
    args.into_iter().map(|arg| arg.replace("$$", "$")).collect()
}

#[test]
fn one_variable_switches_roomkey_and_prosody_between_hs256_and_rs256() {
    let compose = read(&docker("compose.yaml"));
    // Prosody's side: docker-jitsi-meet writes `asap_key_server` only when the variable is set.
    assert!(compose.contains("      JWT_ASAP_KEYSERVER: ${JWT_ASAP_KEYSERVER}\n"));
    assert!(
        !compose.contains("ROOMKEY_JITSI__SIGNING:"),
        "roomkey's signing is derived from JWT_ASAP_KEYSERVER, never set apart from it"
    );

    // roomkey's side: its entrypoint, run by sh with a `roomkey` that prints what it got.
    let bin = tempfile::tempdir().unwrap();
    let stub = bin.path().join("roomkey");
    std::fs::write(&stub, "#!/bin/sh\necho \"$ROOMKEY_JITSI__SIGNING $*\"\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let entrypoint = replica_entrypoint();
    for (keyserver, signs) in [
        (None, "hs256 serve"),
        (Some(""), "hs256 serve"),
        (Some("https://localhost:8443/jitsi/keys"), "rs256 serve"),
    ] {
        let mut command = Command::new(&entrypoint[0]);
        command
            .args(&entrypoint[1..])
            .env("PATH", &path)
            .env_remove("ROOMKEY_JITSI__SIGNING");
        match keyserver {
            Some(value) => command.env("JWT_ASAP_KEYSERVER", value),
            None => command.env_remove("JWT_ASAP_KEYSERVER"),
        };
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            signs,
            "JWT_ASAP_KEYSERVER={keyserver:?}"
        );
    }
}
