//! SQLite WAL checkpoints off the writer's path. SQLite's automatic checkpoint runs
//! inside whichever commit crosses its threshold, stalling that commit (and everyone
//! waiting on its batch) for tens of milliseconds. Instead the writer's automatic
//! checkpoint is off and a connection beside it copies the WAL back into the database
//! in the background; a PASSIVE checkpoint never blocks the writer.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::task::JoinHandle;

/// How often the WAL is copied back: often enough that it stays a few megabytes.
const EVERY: Duration = Duration::from_millis(200);

/// The background checkpoint task; it ends when this is dropped.
pub(super) struct Checkpointer(JoinHandle<()>);

impl Checkpointer {
    pub(super) fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts checkpointing on `side`, a pool beside the writer's.
pub(super) fn start(side: DatabaseConnection) -> Checkpointer {
    Checkpointer(tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = side
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                metrics::counter!("medrt_sqlite_checkpoint_errors_total").increment(1);
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::sqlx::sqlite::SqliteConnectOptions;
    use sea_orm::sqlx::{Connection, Row};

    use crate::store::test_store::migrated_store;

    /// The database file itself, WAL ignored: what a checkpoint has copied back. `None`
    /// while a checkpoint is half-way through copying (the file is read without locks,
    /// so it may look malformed then).
    async fn tables_in_file(path: &std::path::Path) -> Option<i64> {
        let options = SqliteConnectOptions::new().filename(path).immutable(true);
        let mut conn = sea_orm::sqlx::SqliteConnection::connect_with(&options)
            .await
            .ok()?;
        let row = sea_orm::sqlx::query(
            "SELECT count(*) FROM sqlite_master WHERE name = 'ledger_transfers'",
        )
        .fetch_one(&mut conn)
        .await
        .ok()?;
        row.try_get(0).ok()
    }

    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_a_writer_checkpoint() {
        // The writer never checkpoints itself, so the schema starts out in the WAL only.
        let (store, dir) = migrated_store().await;
        let mut copied = false;
        for _ in 0..50 {
            if tables_in_file(&dir.path().join("medrt.db")).await == Some(1) {
                copied = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            copied,
            "the background checkpoint never copied the WAL back"
        );
        drop(store);
    }

    /// SQLite deletes the WAL when the last connection to the file closes: after `close`
    /// nothing of this store (writer, side pool, checkpoints) still holds the file.
    #[tokio::test]
    async fn close_lets_go_of_the_file() {
        let (store, dir) = migrated_store().await;
        let wal = dir.path().join("medrt.db-wal");
        assert!(wal.exists(), "a WAL database in use has its WAL file");
        store.close().await;
        assert!(!wal.exists(), "a connection still holds the database open");
    }
}
