//! The listeners under abuse, over real TCP against the built binary: slow and idle
//! connections are closed, a flood of connections is answered 503 without starving the ops
//! listener, a slow upload is cut short, and SIGTERM drains for a bounded time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod support;

use support::{http, serve};

/// Reads until the server closes the connection or `limit` passes; returns what arrived
/// and whether the server closed it.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    let closed = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

fn metrics(ops_port: u16) -> String {
    let (_, body) = http(ops_port, "GET", "/metrics", None, None);
    body.as_str().unwrap_or_default().to_owned()
}

fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).unwrap()
}

#[test]
fn a_connection_that_never_finishes_its_headers_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[("ROOMKEY_HTTP__HEADER_READ_TIMEOUT_SECS", "1")],
    );
    let mut half_open = connect(server.port);
    half_open
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut half_open, Duration::from_secs(10));
    assert!(closed, "the server keeps a half-sent request open");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[("ROOMKEY_HTTP__HEADER_READ_TIMEOUT_SECS", "1")],
    );
    let mut stream = connect(server.port);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let (received, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(closed, "an idle keep-alive connection stays open");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn connections_over_the_cap_get_503_and_the_ops_listener_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[("ROOMKEY_HTTP__MAX_CONNECTIONS", "20")]);
    let open_public = |count: usize| {
        let expected = format!("roomkey_http_connections{{listener=\"public\"}} {count}\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let scraped = metrics(server.ops_port);
            if scraped.contains(&expected) {
                return;
            }
            assert!(Instant::now() < deadline, "never {count} open: {scraped}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // the start-up probe's connection is gone
    open_public(0);
    // twenty half-sent requests hold every slot
    let mut held: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = connect(server.port);
            stream.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            stream
        })
        .collect();
    open_public(20);
    let mut extra = connect(server.port);
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"unavailable\""), "{answer}");
    assert!(closed);

    let started = Instant::now();
    let (status, _) = http(server.ops_port, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    let scraped = metrics(server.ops_port);
    assert!(
        scraped.contains("roomkey_http_connections_refused_total{listener=\"public\"} 1"),
        "{scraped}"
    );

    // a slot freed is a slot to use
    held.pop();
    std::thread::sleep(Duration::from_millis(300));
    let (status, _) = http(server.port, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
}

#[test]
fn a_request_whose_body_never_arrives_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[("ROOMKEY_HTTP__REQUEST_TIMEOUT_SECS", "1")]);
    let mut stream = connect(server.port);
    stream
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\nConnection: close\r\n\r\n{\"login\":",
        )
        .unwrap();
    let started = Instant::now();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"unavailable\""), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// SIGTERM with an idle keep-alive connection and a half-sent request open: the process
/// exits once the drain is over, with whatever is still open.
#[test]
fn sigterm_exits_within_the_drain_even_with_connections_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path(), &[("ROOMKEY_HTTP__SHUTDOWN_GRACE_SECS", "2")]);
    let mut idle = connect(server.port);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut half = connect(server.port);
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: ").unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let started = Instant::now();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
