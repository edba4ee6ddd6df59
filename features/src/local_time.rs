//! UTC to an account's wall clock, DST included. Polars' own timezone conversion takes one zone
//! per column; histories hold many accounts in many zones, so offsets are looked up here, once
//! per row, with each zone parsed once.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;

pub const SECONDS_PER_WEEK: i64 = 7 * 86_400;

/// A zone name to its tz rules; unknown or missing names are UTC.
pub fn zone(name: Option<&str>) -> Option<Tz> {
    name.and_then(|n| Tz::from_str(n).ok())
}

/// The zone's offset from UTC, in seconds, at a UTC time.
pub fn offset_at(zone: Option<&Tz>, created_at: i64) -> i32 {
    let Some(zone) = zone else { return 0 };
    match chrono::DateTime::from_timestamp(created_at, 0) {
        Some(utc) => zone.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc(),
        None => 0,
    }
}

/// Offsets for many rows, each zone name parsed once.
pub fn utc_offsets<'a>(rows: impl Iterator<Item = (Option<&'a str>, i64)>) -> Vec<i32> {
    let mut zones: HashMap<&str, Option<Tz>> = HashMap::new();
    rows.map(|(name, created_at)| {
        let zone = name.and_then(|n| *zones.entry(n).or_insert_with(|| zone(Some(n))));
        offset_at(zone.as_ref(), created_at)
    })
    .collect()
}

/// Seconds since local Monday 00:00 of a UTC time.
pub fn second_of_week(created_at: i64, offset: i32) -> i64 {
    // 1970-01-01 was a Thursday: three days after a Monday.
    (created_at + offset as i64 + 3 * 86_400).rem_euclid(SECONDS_PER_WEEK)
}

/// The first UTC time after `after` whose local time is `second_of_week`. A wall-clock time
/// that a DST change skips that week moves to the next week's; a repeated one takes the first.
pub fn next_occurrence(zone: Option<&Tz>, second_of_week: i64, after: i64) -> i64 {
    let local_after = after + offset_at(zone, after) as i64;
    let ahead = (second_of_week - self::second_of_week(after, offset_at(zone, after))).rem_euclid(SECONDS_PER_WEEK);
    (0..3)
        .map(|week| local_after + ahead + week * SECONDS_PER_WEEK)
        .find_map(|local| {
            let utc = match zone {
                None => Some(local),
                Some(zone) => chrono::DateTime::from_timestamp(local, 0)
                    .and_then(|wall| zone.from_local_datetime(&wall.naive_utc()).earliest())
                    .map(|t| t.timestamp()),
            };
            utc.filter(|t| *t > after)
        })
        .unwrap_or(local_after + ahead)
}

/// `Tue 09:00` from seconds since local Monday 00:00.
pub fn week_label(second_of_week: i64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let minute = second_of_week / 60;
    format!("{} {:02}:{:02}", DAYS[(minute / 1440) as usize % 7], minute % 1440 / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_dst_in_both_hemispheres() {
        let berlin = zone(Some("Europe/Berlin"));
        let sydney = zone(Some("Australia/Sydney"));
        let (january, july) = (1_736_899_200, 1_752_537_600); // 2025-01-15, 2025-07-15 UTC midnight
        assert_eq!(offset_at(berlin.as_ref(), january), 3600);
        assert_eq!(offset_at(berlin.as_ref(), july), 7200);
        assert_eq!(offset_at(sydney.as_ref(), january), 11 * 3600);
        assert_eq!(offset_at(sydney.as_ref(), july), 10 * 3600);
        assert_eq!(offset_at(zone(Some("Asia/Kolkata")).as_ref(), july), 19_800);
        assert_eq!(utc_offsets([(Some("Nowhere/Else"), july), (None, july)].into_iter()), [0, 0]);
    }

    #[test]
    fn next_occurrence_lands_on_the_local_slot_across_dst() {
        let berlin = zone(Some("Europe/Berlin"));
        // Tuesday 09:00 local; asked on Friday 2025-03-28 12:00 UTC, before the change on Sunday 30th.
        let tuesday_nine = 24 * 3600 + 9 * 3600;
        let next = next_occurrence(berlin.as_ref(), tuesday_nine, 1_743_163_200);
        assert_eq!(next, 1_743_490_800, "2025-04-01 07:00 UTC = 09:00 CEST");
        assert_eq!(second_of_week(next, offset_at(berlin.as_ref(), next)), tuesday_nine);
        // Sunday 02:30 does not exist on 2025-03-30 in Berlin: the next real one is a week later.
        let sunday_half_past_two = 6 * 86_400 + 2 * 3600 + 1800;
        let next = next_occurrence(berlin.as_ref(), sunday_half_past_two, 1_743_163_200);
        assert_eq!(second_of_week(next, offset_at(berlin.as_ref(), next)), sunday_half_past_two);
        assert!(next > 1_743_163_200 + 7 * 86_400);
    }
}
