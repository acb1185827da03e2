//! Group commit for SQLite. SQLite has one writer at a time and each commit is an fsync, so
//! notifications that arrive together are written by one task in one transaction: one fsync for
//! the batch instead of one each. A notification that fails (a constraint, a bad value) is undone
//! alone and reported alone; the others still commit (see [`write_batch`]). Each caller is
//! answered only after the COMMIT, so "200 only after commit" holds per notification.

use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{NewNotification, SaveOutcome, StoreError};

/// Enough to amortise the fsync; small enough that a batch stays a few milliseconds long.
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<SaveOutcome, StoreError>>;

/// The queue into the writer task.
#[derive(Debug, Clone)]
pub(super) struct GroupWriter {
    jobs: mpsc::Sender<(NewNotification, Reply)>,
}

impl GroupWriter {
    /// Starts the writer task. `lock` serialises it with this process's other writes.
    pub(super) fn start(pool: SqlitePool, lock: Arc<Mutex<()>>) -> GroupWriter {
        let (jobs, mut queue) = mpsc::channel::<(NewNotification, Reply)>(1024);
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let _writer = lock.lock().await;
                write_batch(&pool, batch).await;
            }
        });
        GroupWriter { jobs }
    }

    pub(super) async fn save(&self, n: &NewNotification) -> Result<SaveOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((n.clone(), reply))
            .await
            .map_err(|_| StoreError::Write("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Write("the SQLite writer has stopped".into()))?
    }
}

/// Writes the batch in one transaction and answers every caller after the COMMIT. The batch is
/// first written straight through, two statements fewer per notification than with savepoints; if
/// any notification fails, that attempt is rolled back whole and the batch is written again with
/// a savepoint per notification, so the failure stays its own.
async fn write_batch(pool: &SqlitePool, batch: Vec<(NewNotification, Reply)>) {
    let written = match write_straight(pool, &batch).await {
        Ok(results) => Ok(results),
        Err(_) => write_isolated(pool, &batch).await,
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

/// Every notification of the batch, committed only if none of them failed.
async fn write_straight(
    pool: &SqlitePool,
    batch: &[(NewNotification, Reply)],
) -> Result<Vec<Result<SaveOutcome, StoreError>>, String> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| e.to_string())?;
    let mut results = Vec::with_capacity(batch.len());
    for (n, _) in batch {
        match super::sqlite::save_one(&mut tx, n).await {
            Ok(outcome) => results.push(Ok(outcome)),
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e.to_string());
            }
        }
    }
    tx.commit()
        .await
        .map_err(|e| format!("commit failed: {e}"))?;
    Ok(results)
}

/// Each notification under its own savepoint: one that fails is undone alone and reported alone.
async fn write_isolated(
    pool: &SqlitePool,
    batch: &[(NewNotification, Reply)],
) -> Result<Vec<Result<SaveOutcome, StoreError>>, String> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| e.to_string())?;
    let mut results = Vec::with_capacity(batch.len());
    for (n, _) in batch {
        match save_with_savepoint(&mut tx, n).await {
            Ok(result) => results.push(result),
            Err(e) => {
                // The savepoint itself could not be released or rolled back: the transaction may
                // hold part of a notification, so none of the batch may commit.
                let _ = tx.rollback().await;
                return Err(format!("savepoint failed: {e}"));
            }
        }
    }
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
