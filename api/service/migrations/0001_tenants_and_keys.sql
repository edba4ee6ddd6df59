-- Tenants and their API keys. Portable SQL: the same file migrates SQLite and PostgreSQL.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    -- The key's public part (`eiq_<prefix>_…`): how logs and `keys list` name it.
    prefix TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants (name),
    -- SHA-256 of the whole key, hex; the key itself is shown once and never stored.
    hash TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant);
