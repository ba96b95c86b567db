//! Replays every committed input through its target with plain `cargo test`: the seed
//! corpus (`corpus/<target>/`) and the inputs that once failed (`regressions/<target>/`).

use std::path::Path;

fn replay(dir: &Path, run: fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut paths: Vec<_> = entries
        .map(|e| e.expect("a readable folder").path())
        .collect();
    paths.sort();
    for path in &paths {
        let data = std::fs::read(path).expect("a readable input");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{} failed", path.display());
    }
    paths.len()
}

#[test]
fn every_target_passes_its_corpus_and_regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for target in roomkey_fuzz::TARGETS {
        (target.prepare)();
        let seeds = replay(&root.join("corpus").join(target.name), target.run);
        assert!(seeds > 0, "{} has no seed corpus", target.name);
        replay(&root.join("regressions").join(target.name), target.run);
    }
}

#[test]
fn the_config_target_loads_as_config_load_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/config");
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read(&path).unwrap();
        if text.contains(&0) {
            continue;
        }
        let ours = roomkey_fuzz::config::figment(std::str::from_utf8(&text).unwrap())
            .extract::<roomkey::config::Config>();
        let theirs = roomkey::config::Config::load(Some(&path));
        if let (Ok(ours), Ok(theirs)) = (&ours, &theirs) {
            assert_eq!(
                serde_json::to_value(ours).unwrap(),
                serde_json::to_value(theirs).unwrap(),
                "{}",
                path.display()
            );
        }
        if theirs.is_ok() {
            assert!(ours.is_ok(), "{}", path.display());
        }
    }
}
