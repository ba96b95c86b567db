//! Bulk loading through PostgreSQL's `COPY … FROM STDIN`, for data sets of tens of millions
//! of rows (the load generator's `--data-set platform`), where even the batched inserts of
//! [`super::seed`] would take hours.
//!
//! Rows are encoded in COPY's text format by [`CopyRows`], one buffer per table, from the
//! same domain records the rest of the store writes. [`CopyLoader`] streams such buffers
//! into one table at a time on a dedicated connection: each table in one transaction that
//! first empties it, which lets `COPY … FREEZE` write the rows already frozen and marked
//! visible, as a long-lived database's rows are after VACUUM, so the first reads after the
//! load do not rewrite every page to set hint bits. Foreign keys are enforced by one
//! trigger query per row and reference; as superuser the loader turns triggers off for its
//! own session (`session_replication_role = replica`, as `pg_restore --disable-triggers`
//! does), so the caller is responsible for loading consistent rows, and what triggers keep
//! is not kept: attendance loaded this way is missing from `attendance_tally` and
//! `performer_viewers` (the stats' bookkeeping, which the token path never reads).
//! Compiled only with the `bench` feature.

use std::io::Write as _;

use anyhow::Context as _;
use sqlx::postgres::PgConnection;
use sqlx::Connection as _;
use tokio::sync::mpsc;

use super::seed::checked_schema_name;
use super::{SeedStay, StoreError};
use crate::domain::{Ban, BanLift, Entitlement, Revocation, Room, User};

/// The tables a COPY load fills, in the order they must be loaded: each references only
/// tables before it, so emptying one (with the tables that reference it) never empties a
/// table loaded already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CopyTable {
    Users,
    Rooms,
    Entitlements,
    EntitlementRevocations,
    Bans,
    BanLifts,
    Attendance,
}

impl CopyTable {
    pub fn name(self) -> &'static str {
        match self {
            CopyTable::Users => "users",
            CopyTable::Rooms => "rooms",
            CopyTable::Entitlements => "entitlements",
            CopyTable::EntitlementRevocations => "entitlement_revocations",
            CopyTable::Bans => "bans",
            CopyTable::BanLifts => "ban_lifts",
            CopyTable::Attendance => "attendance",
        }
    }

    /// The columns each row of [`CopyRows`] carries, in order.
    fn columns(self) -> &'static str {
        match self {
            CopyTable::Users => {
                "id, handle, email, display_name, role, verified_at, created_at, updated_at, \
                 session_generation"
            }
            CopyTable::Rooms => {
                "id, name, title, owner_id, access, price_minor, currency, plans, starts_at, \
                 ends_at, created_at, updated_at, capacity"
            }
            CopyTable::Entitlements => {
                "id, user_id, scope_kind, scope_ref, quantity, valid_from, valid_until, source, \
                 source_ref, granted_by, created_at"
            }
            CopyTable::EntitlementRevocations => "entitlement_id, revoked_at, revoked_by, reason",
            CopyTable::Bans => {
                "id, user_id, scope_kind, scope_ref, reason, until, banned_by, created_at"
            }
            CopyTable::BanLifts => "ban_id, lifted_at, lifted_by, reason",
            CopyTable::Attendance => "occupant_id, shard, room_id, user_id, joined_at, left_at",
        }
    }
}

/// Rows of one table in COPY's text format: tab-separated fields, one row per line, `\N`
/// for NULL, and backslash, tab, newline and carriage return escaped inside values.
#[derive(Debug)]
pub struct CopyRows {
    table: CopyTable,
    buf: Vec<u8>,
    rows: u64,
    /// Whether the current row has a field yet (the next one then needs a tab first).
    row_started: bool,
}

impl CopyRows {
    pub fn new(table: CopyTable, capacity_bytes: usize) -> Self {
        Self {
            table,
            buf: Vec::with_capacity(capacity_bytes),
            rows: 0,
            row_started: false,
        }
    }

    pub fn table(&self) -> CopyTable {
        self.table
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Hands over the rows so far and starts an empty buffer of the same capacity.
    pub fn take(&mut self) -> CopyRows {
        let fresh = CopyRows::new(self.table, self.buf.capacity());
        std::mem::replace(self, fresh)
    }

    fn text(&mut self, value: &str) -> &mut Self {
        self.separator();
        escape_into(&mut self.buf, value);
        self
    }

    fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.separator();
        let _ = write!(self.buf, "{value}");
        self
    }

    fn opt_int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(value) => self.int(value),
            None => self.null(),
        }
    }

    fn null(&mut self) -> &mut Self {
        self.separator();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    /// A tab before every field but a row's first.
    fn separator(&mut self) {
        if self.row_started {
            self.buf.push(b'\t');
        }
        self.row_started = true;
    }

    fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.rows += 1;
        self.row_started = false;
    }

    /// A user without a password (they cannot log in).
    pub fn push_user(&mut self, user: &User) {
        debug_assert_eq!(self.table, CopyTable::Users);
        self.text(&user.id)
            .text(&user.handle)
            .text(&user.email)
            .text(&user.display_name)
            .text(user.role.as_str())
            .opt_int(user.verified.then_some(user.created_at))
            .int(user.created_at)
            .int(user.updated_at)
            .int(user.session_generation)
            .end_row();
    }

    pub fn push_room(&mut self, room: &Room) {
        debug_assert_eq!(self.table, CopyTable::Rooms);
        self.text(&room.id)
            .text(room.name.as_str())
            .text(&room.title)
            .text(&room.owner_id)
            .text(room.access.as_str())
            .opt_int(room.price.as_ref().map(|p| p.amount_minor))
            .opt_text(room.price.as_ref().map(|p| p.currency.as_str()))
            .text(&room.plans.join(","))
            .opt_int(room.starts_at)
            .opt_int(room.ends_at)
            .int(room.created_at)
            .int(room.updated_at)
            .opt_int(room.capacity.map(i64::from))
            .end_row();
    }

    /// The entitlement itself; its revocation, if any, goes to
    /// [`CopyTable::EntitlementRevocations`] through [`Self::push_revocation`].
    pub fn push_entitlement(&mut self, e: &Entitlement) {
        debug_assert_eq!(self.table, CopyTable::Entitlements);
        self.text(&e.id)
            .text(&e.user_id)
            .text(e.scope.kind())
            .text(e.scope.reference())
            .opt_int(e.quantity)
            .int(e.valid_from)
            .opt_int(e.valid_until)
            .text(e.source.as_str())
            .opt_text(e.source_ref.as_deref())
            .opt_text(e.granted_by.as_deref())
            .int(e.created_at)
            .end_row();
    }

    pub fn push_revocation(&mut self, entitlement_id: &str, revocation: &Revocation) {
        debug_assert_eq!(self.table, CopyTable::EntitlementRevocations);
        self.text(entitlement_id)
            .int(revocation.revoked_at)
            .opt_text(revocation.revoked_by.as_deref())
            .text(&revocation.reason)
            .end_row();
    }

    /// The ban itself; its lift, if any, goes to [`CopyTable::BanLifts`] through
    /// [`Self::push_ban_lift`].
    pub fn push_ban(&mut self, ban: &Ban) {
        debug_assert_eq!(self.table, CopyTable::Bans);
        self.text(&ban.id)
            .text(&ban.user_id)
            .text(ban.scope.kind())
            .opt_text(ban.scope.reference())
            .text(&ban.reason)
            .opt_int(ban.until)
            .opt_text(ban.banned_by.as_deref())
            .int(ban.created_at)
            .end_row();
    }

    pub fn push_ban_lift(&mut self, ban_id: &str, lift: &BanLift) {
        debug_assert_eq!(self.table, CopyTable::BanLifts);
        self.text(ban_id)
            .int(lift.lifted_at)
            .opt_text(lift.lifted_by.as_deref())
            .text(&lift.reason)
            .end_row();
    }

    /// A stay reported by shard `shard`.
    pub fn push_stay(&mut self, shard: &str, stay: &SeedStay) {
        debug_assert_eq!(self.table, CopyTable::Attendance);
        self.text(&stay.occupant_id)
            .text(shard)
            .text(&stay.room_id)
            .text(&stay.user_id)
            .int(stay.joined_at)
            .opt_int(stay.left_at)
            .end_row();
    }
}

/// Appends `value` escaped for COPY's text format.
fn escape_into(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

/// Streams [`CopyRows`] into the tables of one PostgreSQL schema (see the module's doc).
pub struct CopyLoader {
    conn: PgConnection,
    schema: String,
    /// The last table loaded: tables go in [`CopyTable`]'s order, each once.
    loaded: Option<CopyTable>,
    foreign_keys_checked: bool,
}

impl std::fmt::Debug for CopyLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyLoader")
            .field("schema", &self.schema)
            .field("loaded", &self.loaded)
            .finish()
    }
}

impl CopyLoader {
    /// Opens a connection of its own to `url` for loading into `schema`, whose tables
    /// must exist (migrated) and be empty.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        let schema = checked_schema_name(schema)?.to_owned();
        let mut conn = PgConnection::connect(url)
            .await
            .context("connect for COPY")?;
        sqlx::query(&format!("SET search_path TO {schema}"))
            .execute(&mut conn)
            .await
            .context("set the search path")?;
        // Only a superuser may; without it every row's references are checked.
        let foreign_keys_checked = sqlx::query("SET session_replication_role = replica")
            .execute(&mut conn)
            .await
            .is_err();
        Ok(Self {
            conn,
            schema,
            loaded: None,
            foreign_keys_checked,
        })
    }

    /// Whether the load checks foreign keys and runs the tables' triggers (it does unless
    /// connected as a superuser).
    pub fn foreign_keys_checked(&self) -> bool {
        self.foreign_keys_checked
    }

    /// Loads `table` from every buffer received until the senders are gone, in one
    /// transaction; returns the rows loaded. The table must be empty, and come after every
    /// table loaded before it in [`CopyTable`]'s order.
    pub async fn load(
        &mut self,
        table: CopyTable,
        mut rows: mpsc::Receiver<CopyRows>,
    ) -> Result<u64, StoreError> {
        if self.loaded.is_some_and(|last| last >= table) {
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "{} loaded out of order (after {:?})",
                table.name(),
                self.loaded
            )));
        }
        let qualified = format!("{}.{}", self.schema, table.name());
        let occupied: bool =
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {qualified})"))
                .fetch_one(&mut self.conn)
                .await
                .with_context(|| format!("is {qualified} empty"))?;
        if occupied {
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "{qualified} is not empty"
            )));
        }
        self.loaded = Some(table);
        let mut tx = self.conn.begin().await.context("begin")?;
        // Emptied in this transaction so that COPY may freeze the rows. CASCADE empties the
        // tables that reference this one too: all come later in the order, so all are
        // still empty.
        sqlx::query(&format!("TRUNCATE {qualified} CASCADE"))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("truncate {qualified}"))?;
        let statement = format!(
            "COPY {qualified} ({}) FROM STDIN WITH (FORMAT text, FREEZE)",
            table.columns()
        );
        let mut copy = tx
            .copy_in_raw(&statement)
            .await
            .with_context(|| format!("copy into {qualified}"))?;
        while let Some(chunk) = rows.recv().await {
            if chunk.table != table {
                let _ = copy.abort("rows of another table").await;
                return Err(StoreError::Unexpected(anyhow::anyhow!(
                    "rows of {} sent to {}",
                    chunk.table.name(),
                    table.name()
                )));
            }
            copy.send(chunk.buf)
                .await
                .with_context(|| format!("copy into {qualified}"))?;
        }
        let loaded = copy
            .finish()
            .await
            .with_context(|| format!("copy into {qualified}"))?;
        tx.commit().await.context("commit")?;
        Ok(loaded)
    }

    /// Writes the load's dirty pages out now (`CHECKPOINT`, superuser only; skipped
    /// otherwise), so that what is measured next does not share the disk with them.
    pub async fn checkpoint(&mut self) -> Result<(), StoreError> {
        if self.foreign_keys_checked {
            return Ok(());
        }
        sqlx::query("CHECKPOINT")
            .execute(&mut self.conn)
            .await
            .context("checkpoint")?;
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BanScope, EntitlementScope, EntitlementSource};

    #[test]
    fn values_are_escaped_for_the_text_format() {
        let mut out = Vec::new();
        escape_into(&mut out, "plain value");
        assert_eq!(out, b"plain value");
        out.clear();
        escape_into(&mut out, "a\tb\nc\rd\\e \\N \\.");
        assert_eq!(out, br"a\tb\nc\rd\\e \\N \\.");
        out.clear();
        escape_into(&mut out, "ñandú\t✓");
        assert_eq!(out, "ñandú\\t✓".as_bytes());
    }

    #[test]
    fn rows_are_tab_separated_lines_with_nulls_marked() {
        let mut rows = CopyRows::new(CopyTable::Entitlements, 0);
        let entitlement = Entitlement {
            id: "e1".into(),
            user_id: "u1".into(),
            scope: EntitlementScope::Room("r\t1".into()),
            quantity: None,
            valid_from: 10,
            valid_until: Some(20),
            source: EntitlementSource::Payment,
            source_ref: Some("pay\\1".into()),
            granted_by: None,
            created_at: -5,
            revocation: None,
        };
        rows.push_entitlement(&entitlement);
        rows.push_entitlement(&Entitlement {
            valid_until: None,
            ..entitlement
        });
        assert_eq!(rows.rows(), 2);
        let text = String::from_utf8(rows.take().buf).unwrap();
        assert_eq!(
            text,
            "e1\tu1\troom\tr\\t1\t\\N\t10\t20\tpayment\tpay\\\\1\t\\N\t-5\n\
             e1\tu1\troom\tr\\t1\t\\N\t10\t\\N\tpayment\tpay\\\\1\t\\N\t-5\n"
        );
        assert!(rows.is_empty());
        assert_eq!(rows.table(), CopyTable::Entitlements);
    }

    #[test]
    fn a_row_starting_with_a_null_or_an_empty_value_keeps_its_fields() {
        let mut rows = CopyRows::new(CopyTable::Bans, 0);
        let ban = Ban {
            id: String::new(),
            user_id: "u".into(),
            scope: BanScope::Global,
            reason: "line\nbreak".into(),
            until: None,
            banned_by: None,
            created_at: 1,
            lift: None,
        };
        rows.push_ban(&ban);
        rows.push_ban(&ban);
        let text = String::from_utf8(rows.take().buf).unwrap();
        let line = "\tu\tglobal\t\\N\tline\\nbreak\t\\N\t\\N\t1\n";
        assert_eq!(text, format!("{line}{line}"));
    }
}
