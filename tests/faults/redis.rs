//! A `redis-server` of the test's own on a free loopback port, without automatic
//! persistence, so a test can kill it and start it again on the same port: empty, as a
//! restarted cache is, or from a snapshot the test took earlier ([`RedisServer::snapshot`]).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Whether `redis-server` is on the PATH.
    pub fn find() -> Result<(), String> {
        std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .filter(|status| status.success())
            .map(|_| ())
            .ok_or_else(|| "redis-server is not on the PATH".to_owned())
    }

    pub async fn start() -> Self {
        let mut server = Self {
            child: None,
            port: super::free_port(),
            dir: tempfile::Builder::new()
                .prefix("roomkey-faults-redis-")
                .tempdir()
                .expect("a temporary folder"),
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: connections drop at once, nothing answers on the port until [`Self::restart`].
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Writes a snapshot (`SAVE`) that every later [`Self::restart`] loads, as a Redis with
    /// persistence comes back from its last dump.
    pub async fn snapshot(&self) {
        assert_eq!(command(self.port, "SAVE").await.as_deref(), Some("+OK"));
    }

    /// How many keys the server holds (`DBSIZE`).
    pub async fn key_count(&self) -> u64 {
        let reply = command(self.port, "DBSIZE").await.expect("DBSIZE answers");
        reply
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("DBSIZE answered {reply}"))
    }

    /// Starts the server (again) on its port and waits until it answers PING.
    pub async fn restart(&mut self) {
        self.kill().await;
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        for _ in 0..250 {
            if ping(self.port).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }
}

/// One inline command's one-line reply (`+OK`, `:42`), if the server answers in time.
async fn command(port: u16, command: &str) -> Option<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .await?;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            stream.read_exact(&mut byte).await?;
            reply.push(byte[0]);
        }
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&reply).trim_end().to_owned())
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .ok()
        .and_then(Result::ok)
}

async fn ping(port: u16) -> bool {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await?;
        Ok::<_, std::io::Error>(&reply == b"+PONG\r\n")
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(500), exchange).await,
        Ok(Ok(true))
    )
}
