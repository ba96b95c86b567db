//! Moderation: bans and their lifts, and the audit trail of every moderation action. (The
//! ban *check* is part of the access rule, in `access::policy::active_ban`.)

pub mod audit;
pub mod bans;

pub use audit::AuditLog;
pub use bans::{BanError, BanRequest, BanService};
