use sea_orm::{DbErr, SqlErr};

use super::orders::OrderRejected;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint said no: the named thing already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    /// A row holds a value the domain rejects: a bug or a manual edit, never user input.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot prepare the database location: {0}")]
    Location(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// The mall refused an order request (pricing, payment, refund or referral rules).
    #[error(transparent)]
    Order(#[from] OrderRejected),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict(what)`; everything else stays a
    /// database error. The one place constraint violations get their meaning.
    pub(crate) fn unique(err: DbErr, what: &'static str) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(what),
            _ => StoreError::Db(err),
        }
    }

    /// A lock the database could not wait out: SQLite's (e.g. a stale WAL snapshot) or a
    /// PostgreSQL deadlock between two writers. The transaction was rolled back whole
    /// and may simply be run again.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Db(e) if {
            let message = e.to_string();
            message.contains("database is locked") || message.contains("deadlock detected")
        })
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
