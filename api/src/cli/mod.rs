//! Commands other than `serve`.

pub mod models;
