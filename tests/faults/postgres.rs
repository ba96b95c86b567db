//! A PostgreSQL cluster of the test's own: `initdb` into a temporary folder, served on a
//! free loopback port with trust authentication, and stopped, killed and started again at
//! will. initdb refuses to run as root, so as root (CI) every PostgreSQL program runs as the
//! `postgres` user, which owns the folder.

use std::path::{Path, PathBuf};

use tokio::process::Command;

pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
}

impl Postgres {
    /// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb` and `pg_ctl`.
    pub fn find() -> Result<PathBuf, String> {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|_| "no /usr/lib/postgresql".to_owned())?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = entry.path().join("bin");
                (bin.join("initdb").exists() && bin.join("pg_ctl").exists())
                    .then_some((version, bin))
            })
            .collect();
        found.sort();
        let (_, bin) = found
            .pop()
            .ok_or("no initdb/pg_ctl under /usr/lib/postgresql/*/bin")?;
        if super::is_root() && !has_postgres_user() {
            return Err("running as root and there is no postgres user to run initdb as".into());
        }
        Ok(bin)
    }

    /// A new cluster, initialised and started.
    pub async fn start(bin: PathBuf) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("roomkey-faults-pg-")
            .tempdir()
            .expect("a temporary folder");
        let as_postgres = super::is_root();
        if as_postgres {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .await
                .expect("chown runs");
            assert!(status.success(), "chown of the cluster folder failed");
        }
        let cluster = Self {
            bin,
            dir,
            port: super::free_port(),
            as_postgres,
        };
        let data = cluster.data();
        cluster
            .run(
                "initdb",
                &[
                    "-D",
                    path(&data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
            )
            .await;
        cluster.start_again().await;
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the (stopped) cluster on its port and waits until it accepts connections.
    pub async fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=60",
            self.port,
            path(self.dir.path())
        );
        let log = self.dir.path().join("postgres.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path(&self.data()),
                "-l",
                path(&log),
                "-o",
                &options,
                "-w",
                "-t",
                "30",
                "start",
            ],
        )
        .await;
    }

    /// A clean shutdown (`-m fast`: sessions are ended, the server exits).
    pub async fn stop(&self) {
        self.pg_ctl_stop("fast").await;
    }

    /// The server quits at once, as if killed.
    pub async fn kill(&self) {
        self.pg_ctl_stop("immediate").await;
    }

    async fn pg_ctl_stop(&self, mode: &str) {
        self.run(
            "pg_ctl",
            &["-D", path(&self.data()), "-m", mode, "-w", "stop"],
        )
        .await;
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    async fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .await
            .expect("a PostgreSQL program runs");
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.env_remove("PGDATA").kill_on_drop(true);
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let mut command = if self.as_postgres {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            std::process::Command::new(program)
        };
        let _ = command
            .args(["-D", path(&data), "-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn has_postgres_user() -> bool {
    std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|passwd| passwd.lines().any(|line| line.starts_with("postgres:")))
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}
