//! The join page in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven by `tests/browser/join_page.py` with Selenium: the whole path from "visitor
//! with no token" to "in the Jitsi room with a valid `#jwt=`" for a free room, for a paid
//! room after an ePayco confirmation signed with the test keys, and for a banned visitor.
//!
//! `BROWSER_PYTHON` names a Python with `selenium` (`.ci/run` makes one); without it, or
//! without Chromium, the test is skipped (a `SKIPPED:` line; a failure under
//! `TEST_REQUIRE_ALL=1`). Screenshots of every state go to a
//! temporary directory, or to `JOIN_PAGE_SCREENSHOTS` when set (`docs/join-page.md`
//! regenerates `docs/join-page/*.png` that way).

mod support;

use std::process::Command;

#[test]
fn the_join_page_works_in_a_real_browser() {
    let test = "the_join_page_works_in_a_real_browser";
    let Some(python) = support::require_or_skip("BROWSER_PYTHON", test) else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let screenshots = std::env::var_os("JOIN_PAGE_SCREENSHOTS")
        .filter(|p| !p.is_empty())
        .map_or_else(|| scratch.path().to_owned(), std::path::PathBuf::from);
    let output = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/browser/join_page.py"
        ))
        .arg("--roomkey")
        .arg(env!("CARGO_BIN_EXE_roomkey"))
        .arg("--screenshots")
        .arg(&screenshots)
        .output()
        .expect("BROWSER_PYTHON runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => eprintln!("{stderr}"),
        Some(77) => support::skip(test, &format!("Chromium and Selenium\n{stderr}")),
        code => panic!(
            "the browser walk failed ({code:?}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        ),
    }
}
