//! The README's configuration table lists every setting there is.

use roomkey::config::Config;
use serde_json::Value;

fn keys(prefix: &str, value: &Value, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if child.is_object() {
                keys(&name, child, out);
            } else {
                out.push(name);
            }
        }
    }
}

#[test]
fn every_setting_is_documented_in_the_readme() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut settings = Vec::new();
    keys(
        "",
        &serde_json::to_value(Config::default()).unwrap(),
        &mut settings,
    );
    assert!(settings.len() > 20);
    let missing: Vec<_> = settings
        .iter()
        .filter(|s| !readme.contains(&format!("`{s}`")))
        .collect();
    assert!(missing.is_empty(), "undocumented settings: {missing:?}");
}

#[test]
fn the_committed_api_contract_is_the_one_the_code_generates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == roomkey::http::openapi::pretty(),
        "docs/openapi.json differs from the contract the code generates; regenerate it with \
         `cargo run -- openapi --out docs/openapi.json` and commit it"
    );
}
