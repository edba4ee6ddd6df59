//! Each platform's hashtag cap for suggestions, as data (`caps.toml`), with its source.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashtagCap {
    pub id: String,
    /// The most a suggestion returns.
    pub cap: usize,
    /// How many when the request names no `k`.
    pub default: usize,
    pub source: String,
    pub as_of: String,
}

#[derive(Deserialize)]
struct Table {
    platform: Vec<HashtagCap>,
}

/// Every platform's cap, by platform id.
pub fn caps() -> &'static HashMap<String, HashtagCap> {
    static CAPS: LazyLock<HashMap<String, HashtagCap>> = LazyLock::new(|| {
        let table: Table = toml::from_str(include_str!("caps.toml")).expect("caps.toml is valid (tested)");
        table.platform.into_iter().map(|cap| (cap.id.clone(), cap)).collect()
    });
    &CAPS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cap_is_sourced_and_names_a_known_platform() {
        let caps = caps();
        assert_eq!(caps["instagram"].cap, 5);
        assert_eq!(caps["threads"].cap, 1);
        assert_eq!(caps["bluesky"].cap, 8);
        for cap in caps.values() {
            assert!(crate::posts::find("platform", &cap.id).is_ok(), "{}", cap.id);
            assert!(cap.default >= 1 && cap.default <= cap.cap, "{}", cap.id);
            assert!(!cap.source.is_empty() && cap.as_of.len() == 10, "{}", cap.id);
        }
    }
}
