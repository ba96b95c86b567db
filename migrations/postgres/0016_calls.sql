-- Private calls paid by the minute: a performer's per-minute price, the calls viewers ask
-- for, and every minute slot charged. A slot is charged once: its key is (call, slot), and
-- the charge is an insert that does nothing when the row is there, so a replayed, late or
-- reordered attendance report can never charge twice.

CREATE TABLE call_terms (
    performer_id TEXT PRIMARY KEY REFERENCES users (id),
    price_minor  BIGINT NOT NULL CHECK (price_minor > 0),
    currency     TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE calls (
    id                  TEXT PRIMARY KEY,
    viewer_id           TEXT NOT NULL REFERENCES users (id),
    performer_id        TEXT NOT NULL REFERENCES users (id),
    room_id             TEXT REFERENCES rooms (id),
    state               TEXT NOT NULL CHECK (state IN ('requested', 'accepted', 'declined', 'ended')),
    -- The price and split in force when the call was asked for: a later change of terms
    -- does not reprice a call under way.
    price_minor         BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    performer_share_bps BIGINT NOT NULL,
    requested_at        BIGINT NOT NULL,
    -- The anchor of the minute grid: slot k is [accepted_at + 60k, accepted_at + 60(k+1)).
    accepted_at         BIGINT,
    ended_at            BIGINT,
    end_reason          TEXT
);
CREATE UNIQUE INDEX calls_room ON calls (room_id);
CREATE INDEX calls_state ON calls (state, ended_at);

-- One row per charged minute slot of a call.
CREATE TABLE call_minutes (
    call_id         TEXT NOT NULL REFERENCES calls (id),
    slot            BIGINT NOT NULL,
    viewer_id       TEXT NOT NULL REFERENCES users (id),
    performer_minor BIGINT NOT NULL,
    platform_minor  BIGINT NOT NULL,
    charged_at      BIGINT NOT NULL,
    PRIMARY KEY (call_id, slot)
);

-- Minutes of credit each viewer has used; the row is the lock two charges of one viewer
-- take in turn, so a balance of one minute is never spent twice.
CREATE TABLE call_balances (
    user_id         TEXT PRIMARY KEY REFERENCES users (id),
    debited_minutes BIGINT NOT NULL
);

-- Every charged minute's double entry: the viewer's prepaid credit −price, the performer
-- +share, the platform +rest; each slot's entries sum to zero.
CREATE TABLE call_ledger_entries (
    call_id      TEXT NOT NULL REFERENCES calls (id),
    slot         BIGINT NOT NULL,
    account      TEXT NOT NULL,
    performer_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (call_id, slot, account)
);
CREATE INDEX call_ledger_performer ON call_ledger_entries (performer_id, currency);
