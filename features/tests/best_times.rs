//! Best times recover the hours planted in a synthetic history, in each account's local time.

use eiq_datasets::{SyntheticConfig, Truth, generate};
use eiq_features::best_times::{BestTimesOptions, Blackout, TenantSlots};
use eiq_features::{features, posts_to_frame};

#[test]
fn best_slots_land_on_the_planted_best_hours() {
    let synthetic = generate(&SyntheticConfig { accounts: 60, posts_per_account: 400, ..Default::default() });
    let frame = features(posts_to_frame(&synthetic.posts).unwrap()).unwrap();
    let slots = TenantSlots::new(&frame).unwrap();
    let options = BestTimesOptions { top_k: 3, resolution_minutes: Some(60), ..BestTimesOptions::default() };
    let mut hits = 0;
    for account in &synthetic.truth.accounts {
        let best = slots.best_times(&account.account_id, &options).unwrap();
        assert_eq!(best.grid.len(), 168);
        assert_eq!(best.top.len(), 3);
        // The planted effect of the chosen slot, against the platform's best 10 % of hours.
        let planted = Truth::best_hours(account.platform);
        let top_decile = &planted[..17];
        if top_decile.contains(&(best.top[0].start_minute as usize / 60)) {
            hits += 1;
        }
        for pair in best.top.windows(2) {
            let gap = (pair[0].start_minute as i64 - pair[1].start_minute as i64).rem_euclid(10_080);
            assert!(gap.min(10_080 - gap) >= 180, "spacing");
        }
    }
    let share = hits as f64 / synthetic.truth.accounts.len() as f64;
    eprintln!("best slot in the planted top 10 % of hours for {:.0} % of accounts", 100.0 * share);
    assert!(share >= 0.8, "{share}");
}

#[test]
fn thin_history_leans_on_the_platform_and_blackouts_are_respected() {
    let mut config = SyntheticConfig { accounts: 40, posts_per_account: 300, ..Default::default() };
    let mut posts = generate(&config).posts;
    // One more account with only 12 posts, on a platform the others share.
    config.accounts = 1;
    config.posts_per_account = 12;
    config.seed = 99;
    let thin = generate(&config);
    let thin_id = "thin";
    posts.extend(thin.posts.into_iter().map(|mut p| {
        p.account_id = thin_id.into();
        p
    }));
    let slots = TenantSlots::new(&features(posts_to_frame(&posts).unwrap()).unwrap()).unwrap();
    let options = BestTimesOptions { resolution_minutes: Some(60), ..BestTimesOptions::default() };
    let best = slots.best_times(thin_id, &options).unwrap();
    assert!(best.grid.iter().all(|s| s.history_weight < 0.5), "12 posts cannot outweigh the platform");
    assert!(best.grid.iter().filter(|s| s.posts == 0).all(|s| s.history_weight == 0.0));
    let planted = Truth::best_hours(&best.platform);
    assert!(planted[..17].contains(&(best.top[0].start_minute as usize / 60)), "the platform's pattern shows through");
    // Black out the whole of the best slot's day: nothing may be picked there.
    let day = (best.top[0].start_minute / 1440) as u8;
    let blackout = Blackout { day: Some(day), start_minute: 0, end_minute: 1440 };
    let avoided =
        slots.best_times(thin_id, &BestTimesOptions { blackouts: vec![blackout], ..options.clone() }).unwrap();
    assert!(avoided.top.iter().all(|s| s.start_minute / 1440 != day as u32));
    assert!(slots.best_times("nobody", &options).is_err());
    let fine = slots.best_times("acct-00000", &BestTimesOptions { resolution_minutes: None, ..options }).unwrap();
    assert_eq!(fine.resolution_minutes, 60, "300 posts do not support finer than hourly");
}
