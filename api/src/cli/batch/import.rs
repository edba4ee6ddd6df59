//! `eiq batch import`: any history format → canonical posts (a file, or a tenant's store).

use std::collections::HashSet;

use anyhow::bail;
use eiq_features::{HistoryStore, posts_to_frame};

use super::{load_history, step, write_frame};
use crate::config::BatchImportArgs;

pub fn run(args: &BatchImportArgs) -> anyhow::Result<String> {
    let imported = load_history(&args.history)?;
    let accounts: HashSet<&str> = imported.posts.iter().map(|p| p.account_id.as_str()).collect();
    let mut summary = format!(
        "{} posts from {} accounts; {} bad rows; {} reposts skipped\n",
        imported.posts.len(),
        accounts.len(),
        imported.error_count,
        imported.skipped_reposts
    );
    match (&args.output, &args.tenant) {
        (Some(path), _) => {
            step("writing", || write_frame(&mut posts_to_frame(&imported.posts)?, path))?;
            summary.push_str(&format!("wrote {}\n", path.display()));
        }
        (None, Some(tenant)) => {
            let store = HistoryStore::new(&args.history.data.dir());
            let merges = step("storing", || Ok(store.merge(tenant, imported.posts)?))?;
            let added: usize = merges.iter().map(|m| m.added).sum();
            let updated: usize = merges.iter().map(|m| m.updated).sum();
            summary.push_str(&format!(
                "tenant {tenant}: {added} posts added, {updated} updated, across {} accounts in {}\n",
                merges.len(),
                args.history.data.dir().display()
            ));
        }
        (None, None) => bail!("say where the posts go: --output FILE or --tenant NAME"),
    }
    Ok(summary)
}
