-- The audit log: append-only, hash-chained per tenant. Each row's hash covers the previous row's
-- hash and every field of its own, so a changed, removed or reordered row breaks the chain.
-- `tenant` is '' for events no tenant can be named for (an unknown credential).
CREATE TABLE audit_log (
    tenant TEXT NOT NULL,
    -- 1, 2, 3, … per tenant, without gaps.
    seq BIGINT NOT NULL,
    -- Unix milliseconds.
    at_ms BIGINT NOT NULL,
    -- The key prefix, SSO subject, or `local` / `development`.
    actor TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    -- The caller's role (its permission level), or '' when it has none.
    role TEXT NOT NULL,
    event TEXT NOT NULL,
    resource TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    source_ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    -- JSON: the request's details (never a body or a credential).
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);

CREATE INDEX audit_log_by_time ON audit_log (tenant, at_ms);

-- The last row of each tenant's chain: appends lock it (one writer per tenant on PostgreSQL), and
-- verification compares the chain's end with it, so removing the newest rows is noticed too.
CREATE TABLE audit_heads (
    tenant TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
