//! SQLite's lock among processes: there is none to take. The database is a file on one host,
//! and every caller gets the lock; work guarded by it must be safe to run twice
//! (reconciliation is: it is idempotent).

/// The lock SQLite grants every caller, holding nothing.
#[derive(Debug)]
pub(crate) struct GrantedLock;

impl GrantedLock {
    pub(crate) fn acquire() -> GrantedLock {
        GrantedLock
    }

    /// Nothing to unlock.
    pub(crate) fn release(self) {}
}
