-- Publishing: posts through their lifecycle, the deliveries the scheduler makes of them, and each
-- tenant's publishing settings. Times are Unix milliseconds.

-- How a tenant publishes. A tenant without a row has the defaults: approval required, the outbox
-- on, no webhook.
CREATE TABLE publishing_settings (
    tenant TEXT PRIMARY KEY,
    -- 1: a post the gate allows still waits for an approver; 0: it is scheduled at once.
    approval_required BIGINT NOT NULL,
    -- 1: deliveries are appended to the tenant's JSON Lines outbox.
    outbox BIGINT NOT NULL,
    webhook_url TEXT,
    -- AES-256-GCM under the server's secret key: base64 of nonce and ciphertext.
    webhook_secret TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE posts (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    -- draft, submitted, pending_approval, rejected, approved, scheduled, publishing, published,
    -- failed, cancelled.
    state TEXT NOT NULL,
    -- JSON: the texts per platform, the accounts, the media references.
    content TEXT NOT NULL,
    -- When to publish; NULL: as soon as it is approved.
    scheduled_at BIGINT,
    -- `time` or `best` (the account's next best slot, resolved when the draft was made).
    schedule TEXT NOT NULL,
    -- JSON: the gate's reasons for a rejection, or why publishing failed.
    reasons TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE INDEX posts_by_time ON posts (tenant, created_at);

-- `Idempotency-Key`s of post creations: the same key with the same body answers the first post.
CREATE TABLE post_idempotency (
    tenant TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the request, to refuse the key's reuse for another body.
    request_hash TEXT NOT NULL,
    post_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, idempotency_key)
);

-- One delivery of one post's text for one platform through one connector: the scheduler's job.
CREATE TABLE deliveries (
    -- `<tenant>/<post>/<platform>/<connector>`.
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    post_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    -- webhook or outbox.
    connector TEXT NOT NULL,
    -- pending, delivered, dead (retries exhausted: a dead letter), cancelled.
    state TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    -- The replica holding it, until lease_until; a lease past its expiry is free to claim.
    lease_owner TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    delivered_at BIGINT
);

CREATE INDEX deliveries_due ON deliveries (state, run_at);
CREATE INDEX deliveries_by_post ON deliveries (tenant, post_id);
