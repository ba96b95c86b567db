//! Steady token traffic: a few tasks per instance loop over `POST /api/rooms/{room}/token`
//! with a client deadline, and every answer (or its absence) is recorded.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::Method;
use roomkey::outbound::{JsonClient, OutboundError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::instance::ADMIN_KEY;

#[derive(Debug, Clone)]
pub enum Outcome {
    Status(u16),
    /// No answer within the client deadline.
    Timeout,
    Transport(String),
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub instance: &'static str,
    pub user: String,
    /// When the request was sent, from the start of the traffic.
    pub sent: Duration,
    pub took: Duration,
    pub outcome: Outcome,
}

pub struct Traffic {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Where traffic goes: an instance's name and base URL.
pub struct Target {
    pub instance: &'static str,
    pub base_url: String,
}

impl Traffic {
    /// `per_target` tasks per target, each cycling through `users`, pausing `pause` between
    /// requests; every request has `deadline`.
    pub fn start(
        targets: &[Target],
        users: &[String],
        room: &str,
        per_target: usize,
        pause: Duration,
        deadline: Duration,
    ) -> Self {
        let started = Instant::now();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for target in targets {
            for task in 0..per_target {
                let instance = target.instance;
                let url = format!("{}/api/rooms/{room}/token", target.base_url);
                let users = users.to_vec();
                let samples = samples.clone();
                let mut stopped = stopped.clone();
                tasks.push(tokio::spawn(async move {
                    let client = JsonClient::new(deadline);
                    let auth = format!("Bearer {ADMIN_KEY}");
                    let mut next = task;
                    while !*stopped.borrow() {
                        let user = &users[next % users.len()];
                        next += 1;
                        let headers = [("authorization", auth.as_str()), ("x-roomkey-user", user)];
                        let sent = Instant::now();
                        let outcome = match client.send(Method::POST, &url, &headers, None).await {
                            Ok(answer) => Outcome::Status(answer.status.as_u16()),
                            Err(OutboundError::Timeout) => Outcome::Timeout,
                            Err(OutboundError::Transport(error)) => Outcome::Transport(error),
                        };
                        let sample = Sample {
                            instance,
                            user: user.clone(),
                            sent: sent - started,
                            took: sent.elapsed(),
                            outcome,
                        };
                        samples.lock().unwrap().push(sample);
                        tokio::select! {
                            _ = stopped.changed() => {}
                            _ = tokio::time::sleep(pause) => {}
                        }
                    }
                }));
            }
        }
        Self {
            samples,
            stop,
            tasks,
        }
    }

    pub async fn stop(self) -> Report {
        self.stop.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let samples = std::mem::take(&mut *self.samples.lock().unwrap());
        Report { samples }
    }
}

pub struct Report {
    pub samples: Vec<Sample>,
}

impl Report {
    /// Every request that was not answered 200.
    pub fn failures(&self) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| !matches!(s.outcome, Outcome::Status(200)))
            .collect()
    }

    /// Per instance: requests, failures, median, p99 and slowest answer.
    pub fn summary(&self) -> String {
        let mut names: Vec<&str> = self.samples.iter().map(|s| s.instance).collect();
        names.sort_unstable();
        names.dedup();
        let mut lines = Vec::new();
        for name in names {
            let of: Vec<&Sample> = self.samples.iter().filter(|s| s.instance == name).collect();
            let mut took: Vec<Duration> = of.iter().map(|s| s.took).collect();
            took.sort_unstable();
            let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
            let failed = of
                .iter()
                .filter(|s| !matches!(s.outcome, Outcome::Status(200)))
                .count();
            lines.push(format!(
                "{name}: {} requests, {failed} failed, p50 {:?}, p99 {:?}, max {:?}",
                of.len(),
                at(0.5),
                at(0.99),
                at(1.0)
            ));
        }
        lines.join("; ")
    }

    /// The first few failures, for an assertion message.
    pub fn describe_failures(&self) -> String {
        let failures = self.failures();
        let shown: Vec<String> = failures
            .iter()
            .take(8)
            .map(|s| {
                let outcome = match &s.outcome {
                    Outcome::Status(status) => format!("status {status}"),
                    Outcome::Timeout => "no answer in time".to_owned(),
                    Outcome::Transport(error) => error.clone(),
                };
                format!(
                    "{} {} at {:?} after {:?}: {outcome}",
                    s.instance, s.user, s.sent, s.took
                )
            })
            .collect();
        format!("{} failed; first: {}", failures.len(), shown.join(" | "))
    }
}
