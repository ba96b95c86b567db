//! Moderation: bans and their lifts. (The ban *check* is part of the access rule, in
//! `access::policy::active_ban`.)

pub mod bans;

pub use bans::{BanError, BanRequest, BanScopeRequest, BanService};
