//! `asnd reprocess`: sends quarantined bodies through today's pipeline and configuration, for
//! example after an app or a root was added. What now verifies is stored exactly as a live
//! delivery would be (its `source_address` says it was reprocessed), and each row is marked with
//! its result. Rows already stored by an earlier run are skipped, so a rerun changes nothing.
//! Exit code 0: done; 1: the database failed (run it again); 2: usage or configuration error.

use std::path::PathBuf;
use std::process::ExitCode;

use super::appstore::{DEFAULT_CONFIG, Usage, load_config, run_to_exit};
use crate::appstore_api::parse_time;
use crate::ingest::{Outcome, Pipeline, Received};
use crate::server;
use crate::store::{QuarantineFilter, Quarantined};
use crate::time::now_ms;

/// Rows read from the database at a time.
const PAGE: i64 = 200;
/// What `source_address` of a reprocessed notification starts with.
pub const SOURCE_PREFIX: &str = "reprocessed:";

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

/// What a run did, printed as one line per count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub stored: u64,
    pub duplicate: u64,
    pub still_refused: u64,
    /// Rows whose body was cut when kept (`[quarantine] max_body_bytes`): never processed again.
    pub cut: u64,
}

pub fn run(args: &ReprocessArgs) -> ExitCode {
    run_to_exit("reprocess", async {
        let counts = go(args).await?;
        Ok(counts
            .map(|counts| counts.print(args.dry_run))
            .map_err(|failure| format!("{failure}; nothing more was done, run it again")))
    })
}

impl Counts {
    fn print(&self, dry_run: bool) {
        let verb = if dry_run { "would be stored" } else { "stored" };
        println!("{verb}: {}", self.stored);
        println!("duplicate: {}", self.duplicate);
        println!("still refused: {}", self.still_refused);
        println!("cut (not reprocessable): {}", self.cut);
    }
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
    let filter = QuarantineFilter {
        since_ms,
        reason_prefix: args.reason.clone(),
        after_id: 0,
        limit: PAGE,
    };
    let result = reprocess(&pipeline, filter, args.dry_run).await;
    pipeline.store.close().await;
    Ok(result)
}

/// Reprocesses every row of `filter`, page by page.
pub async fn reprocess(
    pipeline: &Pipeline,
    mut filter: QuarantineFilter,
    dry_run: bool,
) -> Result<Counts, String> {
    let mut counts = Counts::default();
    loop {
        let rows = pipeline
            .store
            .quarantine()
            .read(&filter)
            .await
            .map_err(|e| format!("reading the quarantine failed: {e}"))?;
        let Some(last) = rows.last() else {
            return Ok(counts);
        };
        filter.after_id = last.id;
        for row in &rows {
            if row.is_cut() {
                counts.cut += 1;
                continue;
            }
            let result = if dry_run {
                judge(pipeline, row)
            } else {
                reprocess_one(pipeline, row).await?
            };
            match result {
                Judged::Stored => counts.stored += 1,
                Judged::Duplicate => counts.duplicate += 1,
                Judged::Refused => counts.still_refused += 1,
            }
        }
    }
}

enum Judged {
    Stored,
    Duplicate,
    Refused,
}

/// The row as a delivery: its original time, its source marked as reprocessed.
fn received(row: &Quarantined) -> Received {
    Received {
        body: bytes::Bytes::copy_from_slice(&row.raw_body),
        source: format!("{SOURCE_PREFIX}{}", row.source_address),
        received_at_ms: row.received_at,
    }
}

fn judge(pipeline: &Pipeline, row: &Quarantined) -> Judged {
    match pipeline.record(&received(row)) {
        Ok(_) => Judged::Stored,
        Err(_) => Judged::Refused,
    }
}

async fn reprocess_one(pipeline: &Pipeline, row: &Quarantined) -> Result<Judged, String> {
    let outcome = pipeline.process(&received(row)).await;
    let (judged, result) = match &outcome {
        Outcome::Stored(_) => (Judged::Stored, "stored".to_string()),
        Outcome::Duplicate(_) => (Judged::Duplicate, "duplicate".to_string()),
        Outcome::Unavailable(reason) => return Err(reason.clone()),
        refusal => (
            Judged::Refused,
            format!(
                "{}: {}",
                refusal.label(),
                refusal.reason().unwrap_or_default()
            ),
        ),
    };
    pipeline
        .store
        .quarantine()
        .mark(row.id, &result, now_ms())
        .await
        .map_err(|e| format!("marking quarantine row {} failed: {e}", row.id))?;
    Ok(judged)
}
