//! Private calls' counters: calls started and ended, and minutes charged.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::render::header;

#[derive(Debug, Default)]
pub struct CallMetrics {
    started: AtomicU64,
    ended: AtomicU64,
    minutes_debited: AtomicU64,
}

impl CallMetrics {
    /// A performer accepted a call: its room exists.
    pub fn started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    /// An accepted call ended (either side ended or left it, or staff ended it).
    pub fn ended(&self) {
        self.ended.fetch_add(1, Ordering::Relaxed);
    }

    /// One minute slot was charged to a viewer's credit.
    pub fn minute_debited(&self) {
        self.minutes_debited.fetch_add(1, Ordering::Relaxed);
    }

    pub fn minutes_debited(&self) -> u64 {
        self.minutes_debited.load(Ordering::Relaxed)
    }

    pub(super) fn render(&self, out: &mut String) {
        for (name, help, value) in [
            (
                "roomkey_calls_started_total",
                "Private calls accepted (their room created).",
                &self.started,
            ),
            (
                "roomkey_calls_ended_total",
                "Accepted private calls that ended.",
                &self.ended,
            ),
            (
                "roomkey_call_minutes_debited_total",
                "Minutes of private calls charged to viewers' credit.",
                &self.minutes_debited,
            ),
        ] {
            header(out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
    }
}
