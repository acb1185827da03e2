//! `asnd deliveries`: look at the outbox and act on it, also while `serve` runs. `list` shows
//! deliveries; `retry` makes dead ones pending again; `replay` sends stored history to a
//! destination (a new one, say), as new deliveries with the same event ids. Exit code 0: done;
//! 1: the database failed; 2: usage or configuration error.

use std::path::PathBuf;
use std::process::ExitCode;

use super::appstore::{DEFAULT_CONFIG, Usage, load_config, run_to_exit};
use crate::appstore_api::parse_time;
use crate::config::Config;
use crate::ingest::Route;
use crate::server;
use crate::store::outbox::event_id;
use crate::store::{DeliveryFilter, DeliveryState, Store};
use crate::time::{format_ms, now_ms};

/// Rows read or shown at a time.
const PAGE: i64 = 500;

#[derive(Debug, clap::Args)]
pub struct DeliveriesArgs {
    /// The configuration file (TOML); `ASND_*` environment variables override its keys.
    #[arg(long, value_name = "FILE", env = "ASND_CONFIG", default_value = DEFAULT_CONFIG, global = true)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: DeliveriesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DeliveriesCommand {
    /// Deliveries, newest first (at most 500).
    List {
        /// Only this destination.
        #[arg(long)]
        destination: Option<String>,
        /// Only deliveries in this state.
        #[arg(long, value_parser = ["pending", "delivered", "dead"])]
        state: Option<String>,
        /// Only deliveries created since: RFC 3339 or a duration before now (72h, 7days).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
    /// Make dead deliveries pending again, with their attempts reset: one by id, or every dead
    /// delivery of a destination.
    Retry {
        /// The delivery's id (as `list` shows it).
        #[arg(long, conflicts_with_all = ["destination", "dead"], required_unless_present = "destination")]
        id: Option<i64>,
        /// Every dead delivery of this destination (with --dead).
        #[arg(long, requires = "dead")]
        destination: Option<String>,
        /// Retry the dead deliveries of --destination.
        #[arg(long, requires = "destination")]
        dead: bool,
    },
    /// Send the notifications stored in a time range to a destination again (its filters apply),
    /// as new deliveries with the same event ids.
    Replay {
        /// The destination to send to (its filters apply).
        #[arg(long)]
        destination: String,
        /// Start: RFC 3339 or a duration before now.
        #[arg(long, value_name = "TIME")]
        since: String,
        /// End (exclusive), in the same forms; now by default.
        #[arg(long, value_name = "TIME", default_value = "now")]
        until: String,
    },
}

pub fn run(args: &DeliveriesArgs) -> ExitCode {
    run_to_exit("deliveries", go(args))
}

async fn go(args: &DeliveriesArgs) -> Result<Result<(), String>, Usage> {
    let config = load_config(&args.config)?;
    let now = now_ms();
    let time = |flag: &str, value: &str| {
        parse_time(value, now).map_err(|e| Usage(format!("--{flag}: {e}")))
    };
    // Usage is checked before the database is opened.
    let known = |name: &str| -> Result<(), Usage> {
        if config.destinations.iter().any(|d| d.name == name) {
            Ok(())
        } else {
            Err(Usage(format!(
                "no [[destinations]] entry is named {name:?} (configured: {})",
                config
                    .destinations
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    // An unreachable database is a failure to retry (exit 1), not a usage error.
    let store = match server::open_store(&config).await {
        Ok(store) => store,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let result = match &args.command {
        DeliveriesCommand::List {
            destination,
            state,
            since,
        } => {
            let since_ms = since.as_deref().map(|s| time("since", s)).transpose()?;
            list(store.as_ref(), destination.clone(), state.clone(), since_ms).await
        }
        DeliveriesCommand::Retry {
            id, destination, ..
        } => {
            if let Some(name) = destination {
                known(name)?;
            }
            store
                .outbox()
                .retry(*id, destination.as_deref(), now)
                .await
                .map(|n| println!("retried: {n}"))
                .map_err(|e| e.to_string())
        }
        DeliveriesCommand::Replay {
            destination,
            since,
            until,
        } => {
            known(destination)?;
            let range = (time("since", since)?, time("until", until)?);
            replay(&config, store.clone(), destination, range).await
        }
    };
    store.close().await;
    Ok(result)
}

async fn list(
    store: &dyn Store,
    destination: Option<String>,
    state: Option<String>,
    since_ms: Option<i64>,
) -> Result<(), String> {
    let filter = DeliveryFilter {
        destination,
        state,
        since_ms: since_ms.unwrap_or(0),
        limit: PAGE,
    };
    let rows = store
        .outbox()
        .list(&filter)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "id\tevent\tdestination\tstate\tattempts\tnext_attempt\tlast_status\tlast_error\tcreated"
    );
    for r in rows {
        let next = if r.state == DeliveryState::Pending.as_str() {
            format_ms(r.next_attempt_at)
        } else {
            "-".into()
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.id,
            event_id(r.notification_id),
            r.destination,
            r.state,
            r.attempts,
            next,
            r.last_status.map_or("-".into(), |s| s.to_string()),
            r.last_error.as_deref().unwrap_or("-"),
            format_ms(r.created_at),
        );
    }
    Ok(())
}

async fn replay(
    config: &Config,
    store: std::sync::Arc<dyn Store>,
    destination: &str,
    (since_ms, until_ms): (i64, i64),
) -> Result<(), String> {
    // The destination's filters, exactly as ingest applies them.
    let Some(route) = config
        .destinations
        .iter()
        .find(|d| d.name == destination)
        .map(Route::of)
    else {
        return Err(format!(
            "no [[destinations]] entry is named {destination:?}"
        ));
    };
    let (mut after, mut queued) = (0, 0);
    loop {
        let page = store
            .outbox()
            .events_between(since_ms..until_ms, (after, PAGE))
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let matching: Vec<_> = page
            .into_iter()
            .filter(|e| {
                route.accepts(
                    e.bundle_id.as_deref(),
                    e.environment.as_deref(),
                    &e.notification_type,
                    e.subtype.as_deref(),
                )
            })
            .collect();
        queued += store
            .outbox()
            .enqueue(destination, &matching, now_ms())
            .await
            .map_err(|e| e.to_string())?;
    }
    println!("queued: {queued}");
    Ok(())
}
