//! The queue in front of a writer that stores notifications in batches (SQLite's group writer,
//! PostgreSQL's batch writer): a caller hands over its notification and waits for its own
//! outcome, which the writer sends only after the batch's COMMIT.

use tokio::sync::{mpsc, oneshot};

use super::{NewNotification, SaveOutcome, StoreError};

/// Where a writer sends one notification's outcome.
pub(super) type Reply = oneshot::Sender<Result<SaveOutcome, StoreError>>;

/// A notification waiting to be written.
pub(super) type Job = (NewNotification, Reply);

#[derive(Debug, Clone)]
pub(super) struct WriteQueue {
    jobs: mpsc::Sender<Job>,
    /// The writer, for the error when it has stopped.
    writer: &'static str,
}

impl WriteQueue {
    /// The queue and the receiving end its writer task takes jobs from.
    pub(super) fn new(writer: &'static str) -> (WriteQueue, mpsc::Receiver<Job>) {
        let (jobs, queue) = mpsc::channel(1024);
        (WriteQueue { jobs, writer }, queue)
    }

    pub(super) async fn save(&self, n: &NewNotification) -> Result<SaveOutcome, StoreError> {
        let stopped = || StoreError::Write(format!("the {} has stopped", self.writer));
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((n.clone(), reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
