//! PostgreSQL's lock among processes: a session-level advisory lock, held on a connection taken
//! out of the pool for the purpose.

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

/// A held `pg_advisory_lock`; the server releases it when the session ends, whatever happens.
#[derive(Debug)]
pub(crate) struct AdvisoryLock {
    conn: PoolConnection<Postgres>,
    key: i64,
}

impl AdvisoryLock {
    /// Takes the lock `key` if no other session holds it. The session is marked to close rather
    /// than go back to the pool, so a holder that is cancelled or panics cannot leave a pooled
    /// session locked.
    pub(crate) async fn try_acquire(
        pool: &PgPool,
        key: i64,
    ) -> Result<Option<AdvisoryLock>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        // Cancelled while the query runs, the lock may or may not be taken: this session never
        // goes back to the pool, whatever happens (a failed attempt costs one reconnection).
        conn.close_on_drop();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(locked.then_some(AdvisoryLock { conn, key }))
    }

    /// Unlocks, then closes the connection (which would release the lock by itself too).
    pub(crate) async fn release(mut self) {
        if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *self.conn)
            .await
        {
            tracing::warn!(error = %e, "advisory unlock failed; closing the session releases the lock");
        }
        let _ = self.conn.close().await;
    }
}
