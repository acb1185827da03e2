//! Reprocessing the quarantine: sends quarantined bodies through today's pipeline and
//! configuration, for example after an app or a root was added. What now verifies is stored
//! exactly as a live delivery would be (its `source_address` says it was reprocessed), and each
//! row is marked with its result. Rows already stored by an earlier run are skipped, so a rerun
//! changes nothing. `asnd reprocess` and the console's "Reprocess" both call [`reprocess`].

use crate::ingest::{Outcome, Pipeline, Received};
use crate::store::{QuarantineEntry, QuarantineFilter};
use crate::time::now_ms;

/// What `source_address` of a reprocessed notification starts with.
pub const SOURCE_PREFIX: &str = "reprocessed:";

/// What a run did, printed as one line per count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub stored: u64,
    pub duplicate: u64,
    pub still_refused: u64,
    /// Rows whose body was cut when kept (`[quarantine] max_body_bytes`): never processed again.
    pub cut: u64,
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
fn received(row: &QuarantineEntry) -> Received {
    Received {
        body: bytes::Bytes::copy_from_slice(&row.raw_body),
        source: format!("{SOURCE_PREFIX}{}", row.source_address),
        received_at_ms: row.received_at,
    }
}

fn judge(pipeline: &Pipeline, row: &QuarantineEntry) -> Judged {
    match pipeline.record(&received(row)) {
        Ok(_) => Judged::Stored,
        Err(_) => Judged::Refused,
    }
}

async fn reprocess_one(pipeline: &Pipeline, row: &QuarantineEntry) -> Result<Judged, String> {
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
