-- Timestamps are TEXT in one fixed-width UTC layout (2006-01-02T15:04:05.000000Z)
-- so that they compare correctly as strings; the store writes and reads them.
CREATE TABLE customers (
    id               INTEGER PRIMARY KEY,
    external_id      TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL DEFAULT '',
    email            TEXT,
    phone            TEXT,
    locale           TEXT,
    timezone         TEXT,
    birth_year       INTEGER,
    birth_month      INTEGER CHECK (birth_month BETWEEN 1 AND 12),
    birth_day        INTEGER CHECK (birth_day BETWEEN 1 AND 31),
    tier             TEXT    NOT NULL DEFAULT 'general'
                     CHECK (tier IN ('gold', 'key', 'quality', 'general', 'restricted', 'eliminated')),
    attributes       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    email_consent    INTEGER NOT NULL DEFAULT 0,
    email_consent_at TEXT,
    sms_consent      INTEGER NOT NULL DEFAULT 0,
    sms_consent_at   TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    last_purchase_at TEXT,
    purchase_count   INTEGER NOT NULL DEFAULT 0,
    total_spent      REAL    NOT NULL DEFAULT 0
);
CREATE INDEX customers_tier ON customers (tier);
CREATE INDEX customers_birthday ON customers (birth_month, birth_day);
CREATE INDEX customers_timezone ON customers (timezone);
CREATE INDEX customers_last_purchase ON customers (last_purchase_at);
CREATE INDEX customers_email ON customers (email);
CREATE INDEX customers_phone ON customers (phone);

CREATE TABLE customer_tags (
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag         TEXT    NOT NULL,
    PRIMARY KEY (customer_id, tag)
) WITHOUT ROWID;
CREATE INDEX customer_tags_tag ON customer_tags (tag, customer_id);

-- The delivery ledger: one row per (campaign, occurrence, customer, channel),
-- claimed before the provider is called and settled after.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    campaign    TEXT    NOT NULL,
    occurrence  TEXT    NOT NULL,
    customer_id INTEGER NOT NULL,
    channel     TEXT    NOT NULL,
    status      TEXT    NOT NULL
                CHECK (status IN ('sending', 'sent', 'failed', 'skipped', 'deferred', 'unknown')),
    reason      TEXT,
    address     TEXT,
    provider_id TEXT,
    coupon      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT,
    claimed_at  TEXT,
    settled_at  TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    UNIQUE (campaign, occurrence, customer_id, channel)
);
CREATE INDEX deliveries_status ON deliveries (status, claimed_at);
CREATE INDEX deliveries_customer ON deliveries (customer_id, channel, settled_at);

CREATE TABLE suppressions (
    channel    TEXT NOT NULL,
    address    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (channel, address)
);

CREATE TABLE runs (
    campaign    TEXT    NOT NULL,
    occurrence  TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    targeted    INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT,
    finished_at TEXT,
    error       TEXT,
    PRIMARY KEY (campaign, occurrence)
);
