//! `eiq batch …` end to end on files: import → features → train → forecast → best-times → report.

use clap::Parser;
use eiq::cli::batch;
use eiq::config::{BatchCommand, Cli, Command};

fn run(argv: &[&str]) -> anyhow::Result<String> {
    let mut full = vec!["eiq", "batch"];
    full.extend_from_slice(argv);
    let Command::Batch(command) = Cli::try_parse_from(full).expect("valid flags").command else { panic!("not batch") };
    match command {
        BatchCommand::Import(args) => batch::import(&args),
        BatchCommand::Features(args) => batch::features(&args),
        BatchCommand::Train(args) => batch::train(&args),
        BatchCommand::Forecast(args) => batch::forecast(&args),
        BatchCommand::BestTimes(args) => batch::best_times(&args),
        BatchCommand::Report(args) => batch::report(&args),
    }
}

#[test]
fn batch_commands_run_end_to_end_on_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (posts, features, model, card) =
        (path("posts.parquet"), path("features.csv"), path("model.json"), path("card.md"));

    let summary = run(&["import", "--input", "synthetic:30x120", "--output", &posts]).unwrap();
    assert!(summary.starts_with("3600 posts from 30 accounts; 0 bad rows"), "{summary}");
    let summary = run(&["features", "--input", &posts, "--output", &features]).unwrap();
    assert!(summary.contains("3600 rows × 27 features"), "{summary}");
    let header = std::fs::read_to_string(&features).unwrap().lines().next().unwrap().to_string();
    assert!(header.starts_with("post_id,account_id,platform,media,created_at,utc_offset_s,hour_of_week"), "{header}");

    let printed = run(&["train", "--input", &posts, "--model-out", &model, "--card", &card]).unwrap();
    assert!(printed.contains("account median") && std::fs::read_to_string(&card).unwrap() == printed);
    assert!(
        run(&["train", "--input", &posts, "--input", &posts, "--model-out", &model]).is_err(),
        "one model, one input"
    );

    let drafts = path("drafts.csv");
    std::fs::write(&drafts, "account_id,text,media,at\nacct-00001,Launch day?,video,2026-12-01T08:00:00Z\nnobody,hi,,\nacct-00002,hi,hologram,\nacct-00002,plain,,1767600000\n").unwrap();
    let out = run(&["forecast", "--model", &model, "--input", &posts, "--drafts", &drafts]).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "header and the two good drafts; the bad ones reported and skipped: {out}");
    assert!(lines[1].starts_with("acct-00001,2026-12-01T08:00:00Z,"), "{out}");

    let grid = path("week.csv");
    let table = run(&[
        "best-times",
        "--input",
        &posts,
        "--account",
        "acct-00001",
        "--blackout",
        "sat 00:00-24:00",
        "--grid-csv",
        &grid,
    ])
    .unwrap();
    assert_eq!(table.lines().filter(|l| l.starts_with(['M', 'T', 'W', 'F', 'S'])).count(), 5, "{table}");
    assert!(!table.lines().any(|l| l.starts_with("Sat ")), "blacked out: {table}");
    assert_eq!(std::fs::read_to_string(&grid).unwrap().lines().count(), 169);
    assert!(run(&["best-times", "--input", &posts, "--account", "acct-00001", "--blackout", "someday 1-2"]).is_err());

    let report = dir.path().join("report");
    run(&["report", "--input", &posts, "--account", "acct-00001", "--out-dir", report.to_str().unwrap()]).unwrap();
    let heatmap = std::fs::read_to_string(report.join("heatmap.svg")).unwrap();
    assert_eq!(heatmap.matches("<rect").count(), 168);
    assert!(std::fs::read_to_string(report.join("trend.svg")).unwrap().contains("<polyline"));
    assert!(std::fs::read_to_string(report.join("report.md")).unwrap().contains("## Top posts"));
    assert!(run(&["report", "--input", &posts, "--account", "nobody", "--out-dir", report.to_str().unwrap()]).is_err());
}
