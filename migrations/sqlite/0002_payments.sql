-- Payments: what we asked to be paid (intents), every provider notification (events, the
-- dedupe record), and a double-entry ledger in integer minor units.

-- Per-performer commercial terms: revenue share and subscription price.
CREATE TABLE performer_terms (
    performer_id               TEXT PRIMARY KEY REFERENCES users (id),
    performer_share_bps        INTEGER NOT NULL CHECK (performer_share_bps BETWEEN 0 AND 10000),
    subscription_price_minor   INTEGER CHECK (subscription_price_minor IS NULL OR subscription_price_minor > 0),
    subscription_currency      TEXT,
    updated_at                 INTEGER NOT NULL
);

CREATE TABLE payment_intents (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    kind           TEXT NOT NULL CHECK (kind IN ('room', 'subscription', 'tip', 'feature')),
    room_id        TEXT REFERENCES rooms (id),
    performer_id   TEXT REFERENCES users (id),
    feature        TEXT,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    currency       TEXT NOT NULL,
    provider       TEXT NOT NULL,
    provider_ref   TEXT,
    state          TEXT NOT NULL CHECK (state IN ('created', 'pending', 'accepted', 'denied', 'reversed')),
    entitlement_id TEXT REFERENCES entitlements (id),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX payment_intents_provider_ref ON payment_intents (provider, provider_ref);
CREATE INDEX payment_intents_state ON payment_intents (state, updated_at);

CREATE TABLE payment_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    intent_id   TEXT NOT NULL REFERENCES payment_intents (id),
    state       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor       TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- Every transaction's entries sum to zero per currency. Accounts: `provider:<name>`
-- (money received), `performer:<user id>`, `platform`.
CREATE TABLE ledger_entries (
    id             TEXT PRIMARY KEY,
    transaction_id TEXT NOT NULL,
    intent_id      TEXT NOT NULL REFERENCES payment_intents (id),
    kind           TEXT NOT NULL CHECK (kind IN ('payment', 'tip', 'refund', 'chargeback')),
    account        TEXT NOT NULL,
    performer_id   TEXT,
    room_id        TEXT,
    amount_minor   INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX ledger_entries_performer ON ledger_entries (performer_id, currency);
CREATE INDEX ledger_entries_room ON ledger_entries (room_id, currency);
CREATE INDEX ledger_entries_intent ON ledger_entries (intent_id);
