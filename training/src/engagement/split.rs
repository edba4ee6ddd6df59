//! Time-ordered hold-out per account: each account's last 20 % of posts (at least one, for
//! accounts with two or more) are held out, so every forecast is of the future.

use std::collections::HashMap;

use super::rows::PostRow;

pub const HELD_OUT: f64 = 0.2;

/// Indices of (earlier, later) rows. Rows need not be sorted.
pub fn split_by_time(rows: &[PostRow]) -> (Vec<usize>, Vec<usize>) {
    let mut by_account: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        by_account.entry(&row.account_id).or_default().push(i);
    }
    let (mut earlier, mut later) = (Vec::new(), Vec::new());
    for indices in by_account.values_mut() {
        indices.sort_by_key(|&i| (rows[i].created_at, i));
        let n = indices.len();
        let held = if n < 2 { 0 } else { ((n as f64 * HELD_OUT).floor() as usize).max(1) };
        earlier.extend_from_slice(&indices[..n - held]);
        later.extend_from_slice(&indices[n - held..]);
    }
    earlier.sort_unstable();
    later.sort_unstable();
    (earlier, later)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_holds_out_its_latest_fifth() {
        let row = |account: &str, t: i64| PostRow {
            account_id: account.into(),
            created_at: t,
            ..crate::engagement::rows::tests::empty_row()
        };
        let mut rows: Vec<PostRow> = (0..10).rev().map(|t| row("a", t)).collect();
        rows.push(row("b", 5));
        rows.extend([row("c", 1), row("c", 2)]);
        let (earlier, later) = split_by_time(&rows);
        let later_times: Vec<(String, i64)> =
            later.iter().map(|&i| (rows[i].account_id.clone(), rows[i].created_at)).collect();
        assert_eq!(later_times, [("a".into(), 9), ("a".into(), 8), ("c".into(), 2)]);
        assert_eq!(earlier.len() + later.len(), rows.len());
    }
}
