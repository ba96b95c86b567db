//! `[calls]`: private calls paid by the minute (`docs/calls.md`).

use serde::{Deserialize, Serialize};

use super::{bad, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// Seconds between the meter's passes over the calls under way: how soon a started
    /// minute shows as charged, and a party's departure ends a call. The moment a
    /// viewer's credit runs out does not depend on it. `0` runs no meter on this instance
    /// (another instance's, or a test's, does the work). default: `5`; env
    /// `ROOMKEY_CALLS__METER_INTERVAL_SECS`.
    pub meter_interval_secs: u64,
    /// Seconds a party may be gone (a reconnect) before the call ends. default: `30`; env
    /// `ROOMKEY_CALLS__LEAVE_GRACE_SECS`.
    pub leave_grace_secs: i64,
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self {
            meter_interval_secs: 5,
            leave_grace_secs: 30,
        }
    }
}

impl CallsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.meter_interval_secs > 60 {
            return Err(bad(
                "calls.meter_interval_secs",
                "must be at most 60: a minute must be charged within the minute",
            ));
        }
        if !(0..=600).contains(&self.leave_grace_secs) {
            return Err(bad("calls.leave_grace_secs", "must be 0 to 600"));
        }
        Ok(())
    }
}
