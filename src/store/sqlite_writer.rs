//! Group commit for SQLite. SQLite has one writer at a time and each commit is an fsync, so
//! notifications that arrive together are written by one task in one transaction: one fsync for
//! the batch instead of one each. Every notification gets its own SAVEPOINT, so one that fails
//! (a constraint, a bad value) is undone alone and reported alone; the others still commit. Each
//! caller is answered only after the COMMIT, so "200 only after commit" holds per notification.

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

async fn write_batch(pool: &SqlitePool, batch: Vec<(NewNotification, Reply)>) {
    let mut tx = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::Write(message.clone())));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for (n, _) in &batch {
        match save_with_savepoint(&mut tx, n).await {
            Ok(result) => results.push(result),
            Err(e) => {
                // The savepoint itself could not be released or rolled back: the transaction may
                // hold part of a notification, so none of the batch may commit.
                let message = format!("savepoint failed: {e}");
                let _ = tx.rollback().await;
                for (_, reply) in batch {
                    let _ = reply.send(Err(StoreError::Write(message.clone())));
                }
                return;
            }
        }
    }
    match tx.commit().await {
        Ok(()) => {
            for ((_, reply), result) in batch.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            // Nothing of the batch is stored: everyone gets the error (and Apple retries).
            let message = format!("commit failed: {e}");
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::Write(message.clone())));
            }
        }
    }
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
