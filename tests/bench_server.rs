//! The benchmark's sign-only endpoint cannot ship by accident: the `roomkey` binary never
//! serves it, even built with `--features bench`, and `roomkey-bench-server`, which does,
//! starts only on loopback and says what it is. Run with `cargo test --features bench
//! --test bench_server` (`.ci/run` does).
#![cfg(feature = "bench")]

use std::process::{Command, Stdio};

mod support;

use support::{free_port, http, serve};

#[test]
fn the_roomkey_binary_built_for_benchmarks_still_has_no_sign_only_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let (status, body) = http(server.port, "POST", "/bench/sign/anyroom", None, None);
    assert_eq!(status, 404, "{body}");
    let (status, body) = http(server.port, "GET", "/bench/hello", None, None);
    assert_eq!(status, 404, "{body}");
}

fn bench_server(dir: &std::path::Path, listen: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roomkey-bench-server"));
    command
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .env("ROOMKEY_HTTP__LISTEN", listen)
        .env(
            "ROOMKEY_HTTP__OPS_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .stdin(Stdio::null());
    command
}

#[test]
fn the_bench_server_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let output = bench_server(dir.path(), &format!("0.0.0.0:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("http.listen = 0.0.0.0:"), "{stderr}");
    assert!(stderr.contains("NOT THE ROOMKEY SERVICE"), "{stderr}");
}

#[test]
fn the_bench_server_signs_on_loopback_and_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = bench_server(dir.path(), &format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (status, body) = http(port, "POST", "/bench/sign/anyroom", None, None);
    let (hello_status, hello) = http(port, "GET", "/bench/hello", None, None);
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!((hello_status, hello.as_str()), (200, Some("ok")));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("NOT THE ROOMKEY SERVICE"), "{stderr}");
}
