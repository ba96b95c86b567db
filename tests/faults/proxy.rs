//! A TCP proxy in front of Redis, so one instance can lose Redis while another keeps it.
//!
//! - [`Mode::Pass`] relays both ways.
//! - [`Mode::Hang`] accepts connections and holds them, relaying nothing either way: a
//!   server that stopped answering, or a network that drops packets. Bytes already sent
//!   wait in the socket buffers and flow again on `Pass`, as after a stall.
//! - [`Mode::Cut`] resets every connection and every new one: a peer that is gone.
//! - [`Mode::Strand`] leaves every open connection silent for good (whatever the mode
//!   becomes later) and relays new ones: a middlebox that forgot the open connections,
//!   or a server replaced behind the same address.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Hang,
    Cut,
    Strand,
}

pub struct Proxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds");
        let port = listener.local_addr().expect("a bound address").port();
        let (mode, watching) = watch::channel(Mode::Pass);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                tokio::spawn(relay(client, upstream, watching.clone()));
            }
        });
        Self { port, mode, accept }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Relays end when they see the sender gone.
        self.accept.abort();
    }
}

async fn relay(client: TcpStream, upstream: u16, mut mode: watch::Receiver<Mode>) {
    // A connection accepted while hung waits, unanswered, for the proxy to pass or cut.
    loop {
        let current = *mode.borrow_and_update();
        match current {
            Mode::Pass | Mode::Strand => break,
            Mode::Cut => return reset(client),
            Mode::Hang => {}
        }
        if mode.changed().await.is_err() {
            return;
        }
    }
    // A connection made while stranding is one of the new ones, which pass.
    let mut strandable = *mode.borrow() != Mode::Strand;
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        // Nothing listens upstream: the client is refused, as it would be without a proxy.
        return reset(client);
    };
    let _ = server.set_nodelay(true);
    let (mut client, mut server) = (client, server);
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    loop {
        let current = *mode.borrow_and_update();
        match current {
            Mode::Pass => strandable = true,
            Mode::Strand if !strandable => {}
            Mode::Strand => {
                // Open, silent, until the proxy goes away.
                while mode.changed().await.is_ok() {}
                return;
            }
            Mode::Hang => {
                if mode.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Mode::Cut => {
                reset(server);
                return reset(client);
            }
        }
        tokio::select! {
            changed = mode.changed() => if changed.is_err() { return },
            read = client.read(&mut from_client) => match read {
                Ok(n) if n > 0 => {
                    if server.write_all(&from_client[..n]).await.is_err() {
                        return;
                    }
                }
                _ => return,
            },
            read = server.read(&mut from_server) => match read {
                Ok(n) if n > 0 => {
                    if client.write_all(&from_server[..n]).await.is_err() {
                        return;
                    }
                }
                _ => return,
            },
        }
    }
}

/// Closes with a reset (RST), not an orderly FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
