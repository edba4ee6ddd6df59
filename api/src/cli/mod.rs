//! Commands other than `serve`.

pub mod batch;
pub mod models;
pub mod train;
