//! Commands other than `serve`.

pub mod models;
pub mod train;
