-- What each tenant used, per calendar month (UTC, `YYYY-MM`) and metric: counters that replicas
-- add to, and quotas consume from, atomically in the store.
CREATE TABLE usage_counts (
    tenant TEXT NOT NULL,
    period TEXT NOT NULL,
    metric TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (tenant, period, metric)
);
