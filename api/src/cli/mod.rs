//! Commands other than `serve`.

pub mod audit;
pub mod batch;
pub mod models;
pub mod posts;
pub mod tenants;
pub mod train;
pub mod usage;
