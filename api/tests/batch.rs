//! `eiq batch …` end to end on files: import → features → train → forecast → best-times → report.

mod common;

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
        BatchCommand::Analyze(args) => batch::analyze(&args),
        BatchCommand::Index(args) => batch::index(&args),
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

/// `eiq batch analyze` on the real text model: every post gets each head's label and score and the
/// gate's decision with its reasons; a post with no text is reported and left out.
#[test]
fn batch_analyze_labels_every_post_and_gives_the_gates_decision() {
    common::ensure_models_fetched();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("posts.csv");
    std::fs::write(
        &input,
        "post_id,account_id,platform,created_at,text\n\
         p1,acme,x,1735689600,What a lovely morning with the team!\n\
         p2,acme,x,1735693200,this damn update broke everything again\n\
         p3,acme,x,1735696800,\"   \"\n\
         p4,acme,instagram,1735700400,competitorco has nothing on us\n",
    )
    .unwrap();
    let policies = dir.path().join("policies.toml");
    std::fs::write(&policies, "[policies.brand]\nblocklist = [\"competitorco\"]\n").unwrap();
    let output = dir.path().join("analysed.csv");
    let (input, output_path) = (input.to_str().unwrap(), output.to_str().unwrap());
    let summary = run(&["analyze", "--input", input, "--output", output_path]).unwrap();
    assert!(summary.starts_with("3 posts analysed"), "{summary}");
    assert!(summary.contains("1 not analysed") && summary.contains("policy `default`"), "{summary}");
    let text = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let header: Vec<&str> = lines[0].split(',').collect();
    for column in ["post_id", "sentiment", "sentiment_score", "offensive", "hate", "irony", "decision", "reasons"] {
        assert!(header.contains(&column), "{column}: {header:?}");
    }
    let field = |line: &str, name: &str| {
        let index = header.iter().position(|c| *c == name).unwrap();
        line.split(',').nth(index).unwrap().to_string()
    };
    let profane = lines.iter().find(|l| l.starts_with("p2,")).unwrap();
    assert_eq!(field(profane, "decision"), "review", "{profane}");
    assert!(field(profane, "reasons").contains("profanity"), "{profane}");
    let score: f32 = field(lines[1], "sentiment_score").parse().unwrap();
    assert!((0.0..=1.0).contains(&score), "{score}");

    // A named policy from a file: its blocklist blocks.
    let policies = policies.to_str().unwrap();
    let args = ["analyze", "--input", input, "--output", output_path, "--policies", policies, "--policy", "brand"];
    let summary = run(&args).unwrap();
    assert!(summary.contains("1 block"), "{summary}");
    let text = std::fs::read_to_string(&output).unwrap();
    let blocked = text.lines().find(|l| l.starts_with("p4,")).unwrap();
    assert_eq!(field(blocked, "decision"), "block", "{blocked}");
    let unknown = ["analyze", "--input", input, "--output", output_path, "--policy", "strict"];
    assert!(run(&unknown).unwrap_err().to_string().contains("no policy named `strict`"));

    // A tenant's stored history, as the server imported it: every stored post with text.
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    run(&["import", "--input", input, "--tenant", "acme-co", "--data-dir", data]).unwrap();
    let stored = ["analyze", "--input", "tenant:acme-co", "--data-dir", data, "--output", output_path];
    let summary = run(&stored).unwrap();
    assert!(summary.starts_with("3 posts analysed"), "{summary}");
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 4);
    let missing = ["analyze", "--input", "tenant:nobody", "--data-dir", data, "--output", output_path];
    assert!(run(&missing).unwrap_err().to_string().contains("no stored history"));
}

#[test]
fn batch_index_imports_embeds_and_resumes() {
    common::ensure_models_fetched();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").to_str().unwrap().to_string();
    let flags = ["index", "--input", "synthetic:3x40", "--tenant", "acme", "--data-dir", &data];
    let summary = run(&flags).unwrap();
    assert!(summary.contains("imported 120 posts into tenant acme"), "{summary}");
    assert!(summary.contains("tenant acme: 120 posts; 120 embedded, 0 updated, 0 deleted"), "{summary}");
    // Run again over the data folder: everything is current, nothing is embedded.
    let summary = run(&["index", "--data-dir", &data]).unwrap();
    assert!(summary.contains("tenant acme: 0 posts; 0 embedded"), "{summary}");
    // A tenant without history is an error naming the folder's state, not a panic.
    let empty = dir.path().join("empty").to_str().unwrap().to_string();
    let err = run(&["index", "--data-dir", &empty]).unwrap_err().to_string();
    assert!(err.contains("no tenant has a history"), "{err}");
}
