//! `eiq posts list|show|retry`: the operator's view of a tenant's posts, over the same store as
//! the server; a retry is picked up by a running server's scheduler.

use eiq_service::publishing::{ListQuery, PostStore};
use eiq_service::tenancy::{Principal, TenantId};

use super::tenants::{Store, run};
use crate::config::PostsCommand;
use crate::rest::PostBody;

pub fn posts(command: PostsCommand) -> anyhow::Result<String> {
    match command {
        PostsCommand::List(args) => run(&args.database, |store, _| async move {
            let local = Principal::local(TenantId::parse(&args.tenant)?);
            let query = ListQuery { state: args.state, limit: Some(args.limit), after: None };
            let page = post_store(store).list(&local, query).await?;
            let mut lines = String::new();
            for post in page.posts {
                lines.push_str(&serde_json::to_string(&PostBody::from(post))?);
                lines.push('\n');
            }
            Ok(lines)
        }),
        PostsCommand::Show(args) => run(&args.database, |store, _| async move {
            let local = Principal::local(TenantId::parse(&args.tenant)?);
            let post = post_store(store).get(&local, &args.post_id).await?;
            Ok(format!("{}\n", serde_json::to_string_pretty(&PostBody::from(post))?))
        }),
        PostsCommand::Retry(args) => run(&args.database, |store, now| async move {
            let local = Principal::local(TenantId::parse(&args.tenant)?);
            let retried = post_store(store).retry(&local, &args.post_id, now.saturating_mul(1_000)).await?;
            let dead = retried.post.deliveries.iter().filter(|d| d.state == "pending").count();
            Ok(format!("{}: {dead} deliveries queued again\n", retried.post.id))
        }),
    }
}

fn post_store(store: Store) -> PostStore {
    let Store { directory, audit, usage } = store;
    PostStore::new(directory.database().clone(), audit, usage, directory.plans().clone())
}
