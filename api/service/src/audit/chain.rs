//! The hash of an audit row: SHA-256 over the previous row's hash and every field of the row, each
//! length-prefixed so that no two different rows encode alike (moving text from one field to the
//! next changes the hash).

use sha2::{Digest, Sha256};

use super::AuditRecord;

/// The hash `record` must carry, given the `prev_hash` it records.
pub fn hash(record: &AuditRecord) -> String {
    let mut digest = Sha256::new();
    let seq = record.seq.to_string();
    let at = record.at_ms.to_string();
    for field in [
        record.prev_hash.as_str(),
        record.tenant.as_str(),
        &seq,
        &at,
        &record.actor,
        &record.auth_method,
        &record.role,
        &record.event,
        &record.resource,
        &record.action,
        &record.outcome,
        &record.source_ip,
        &record.user_agent,
        &record.details,
    ] {
        digest.update((field.len() as u64).to_le_bytes());
        digest.update(field.as_bytes());
    }
    hex::encode(digest.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let record = AuditRecord { actor: "ab".into(), auth_method: "c".into(), ..AuditRecord::default() };
        let moved = AuditRecord { actor: "a".into(), auth_method: "bc".into(), ..AuditRecord::default() };
        assert_ne!(hash(&record), hash(&moved));
        assert_eq!(hash(&record), hash(&record.clone()));
    }
}
