//! `asnd reprocess`: sends quarantined bodies through today's pipeline and configuration, for
//! example after an app or a root was added ([`crate::reprocess`] does it; the console's
//! "Reprocess" calls the same). Exit code 0: done; 1: the database failed (run it again); 2: usage
//! or configuration error.

use std::path::PathBuf;
use std::process::ExitCode;

use super::appstore::{DEFAULT_CONFIG, Usage, load_config, run_to_exit};
use crate::appstore_api::parse_time;
use crate::ingest::Pipeline;
use crate::reprocess::{Counts, reprocess};
use crate::server;
use crate::store::QuarantineFilter;
use crate::time::now_ms;

#[derive(Debug, clap::Args)]
pub struct ReprocessArgs {
    /// The configuration file `serve` uses; `ASND_*` variables override its keys.
    #[arg(long, value_name = "FILE", env = "ASND_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Only rows received since: RFC 3339 (2026-11-01T00:00:00Z) or a duration before now
    /// (72h, 7days). All rows by default.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only rows whose reason starts with this, e.g. INVALID_APP_IDENTIFIER.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pub reason: String,
    /// Verify only: count what would be stored, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: &ReprocessArgs) -> ExitCode {
    run_to_exit("reprocess", async {
        let counts = go(args).await?;
        Ok(counts
            .map(|counts| print(&counts, args.dry_run))
            .map_err(|failure| format!("{failure}; nothing more was done, run it again")))
    })
}

/// What a run did, one line per count.
fn print(counts: &Counts, dry_run: bool) {
    let verb = if dry_run { "would be stored" } else { "stored" };
    println!("{verb}: {}", counts.stored);
    println!("duplicate: {}", counts.duplicate);
    println!("still refused: {}", counts.still_refused);
    println!("cut (not reprocessable): {}", counts.cut);
}

async fn go(args: &ReprocessArgs) -> Result<Result<Counts, String>, Usage> {
    let since_ms = match &args.since {
        Some(since) => parse_time(since, now_ms()).map_err(|e| Usage(format!("--since: {e}")))?,
        None => 0,
    };
    let config = load_config(&args.config)?;
    // An unreachable database is a failure to retry (exit 1), not a usage error.
    let store = match server::open_store(&config).await {
        Ok(store) => store,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let pipeline = Pipeline::from_config(&config, store)?;
    let filter = QuarantineFilter::matching(since_ms, &args.reason);
    let result = reprocess(&pipeline, filter, args.dry_run).await;
    pipeline.store.close().await;
    Ok(result)
}
