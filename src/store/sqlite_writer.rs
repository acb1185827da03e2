//! Group commit for SQLite. SQLite has one writer at a time and each commit is an fsync, so
//! notifications that arrive together are written by one task in one transaction: one fsync for
//! the batch instead of one each. A notification that fails (a constraint, a bad value) is undone
//! alone and reported alone; the others still commit (see [`write_batch`]). Each caller is
//! answered only after the COMMIT, so "200 only after commit" holds per notification.

use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::Mutex;

use super::write_queue::{Job, WriteQueue};
use super::{NewNotification, SaveOutcome, StoreError};

/// Enough to amortise the fsync; small enough that a batch stays a few milliseconds long.
const MAX_BATCH: usize = 64;

/// Starts the writer task; notifications queued on the returned queue are written in groups.
/// `lock` serialises the writer with this process's other writes.
pub(super) fn start(pool: SqlitePool, lock: Arc<Mutex<()>>) -> WriteQueue {
    let (queue, mut jobs) = WriteQueue::new("SQLite writer");
    tokio::spawn(async move {
        while let Some(first) = jobs.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let _writer = lock.lock().await;
            write_batch(&pool, batch).await;
        }
    });
    queue
}

/// Writes the batch in one transaction and answers every caller after the COMMIT. The batch is
/// first written straight through, one statement per table for the whole batch; if
/// any notification fails, that attempt is rolled back whole and the batch is written again with
/// a savepoint per notification, so the failure stays its own.
async fn write_batch(pool: &SqlitePool, batch: Vec<Job>) {
    let written = match write_all(pool, &batch, false).await {
        Ok(results) => Ok(results),
        Err(_) => write_all(pool, &batch, true).await,
    };
    match written {
        Ok(results) => {
            for ((_, reply), result) in batch.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        // Nothing of the batch is stored: everyone gets the error (and Apple retries).
        Err(message) => {
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::Write(message.clone())));
            }
        }
    }
}

/// Every notification of the batch in one transaction, each outcome in order. Straight through
/// (`isolated` false: one statement per table for the whole batch), any failure rolls back the
/// whole transaction; with `isolated`, each notification has its own savepoint and a failure is
/// only that notification's outcome.
async fn write_all(
    pool: &SqlitePool,
    batch: &[Job],
    isolated: bool,
) -> Result<Vec<Result<SaveOutcome, StoreError>>, String> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| e.to_string())?;
    let results = if isolated {
        let mut results = Vec::with_capacity(batch.len());
        for (n, _) in batch {
            match save_with_savepoint(&mut tx, n).await {
                Ok(outcome) => results.push(outcome),
                Err(e) => {
                    // The savepoint itself could not be released or rolled back, so the
                    // transaction may hold part of a notification: none of the batch may commit.
                    let _ = tx.rollback().await;
                    return Err(format!("savepoint failed: {e}"));
                }
            }
        }
        results
    } else {
        let notifications: Vec<&NewNotification> = batch.iter().map(|(n, _)| n).collect();
        match super::sqlite::save_batch(&mut tx, &notifications).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e.to_string());
            }
        }
    };
    tx.commit()
        .await
        .map_err(|e| format!("commit failed: {e}"))?;
    Ok(results)
}

/// The notification's own outcome, inside `Ok`; `Err` when the savepoint could not be handled,
/// which condemns the whole batch.
async fn save_with_savepoint(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    n: &NewNotification,
) -> Result<Result<SaveOutcome, StoreError>, sqlx::Error> {
    sqlx::query("SAVEPOINT notification")
        .execute(&mut **tx)
        .await?;
    let outcome = super::sqlite::save_one(tx, n).await;
    if outcome.is_err() {
        sqlx::query("ROLLBACK TO notification")
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("RELEASE notification")
        .execute(&mut **tx)
        .await?;
    Ok(outcome)
}
