//! SQLite WAL checkpoints off the writer's path. SQLite's automatic checkpoint runs
//! inside whichever commit crosses its threshold, stalling that commit (and everyone
//! waiting on its batch) for tens of milliseconds. Instead the writer's automatic
//! checkpoint is off and a connection beside it copies the WAL back into the database
//! in the background; a PASSIVE checkpoint never blocks the writer.
//!
//! SQLite starts the WAL over from its beginning only when a write finds every frame
//! copied back, which never happens while writes never pause: the background copy
//! always trails the frames appended meanwhile, and the WAL would grow without end
//! (a quarter of a gigabyte in four seconds of `bench ledger`). So once the WAL holds
//! `RESTART_AFTER_FRAMES`, the checkpoint asks the ledger's writer (`Backfill`) to copy
//! the last frames itself between two batches; with nothing appended meanwhile, its
//! next write starts the WAL over. That stalls one batch for the copy (about 25 ms
//! at full load), so it is asked for rarely, not after every background pass (measured:
//! after every pass costs more throughput than writing over old frames saves).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::task::JoinHandle;

/// How often the WAL is copied back: often enough that it stays a few megabytes (in
/// unit tests, often enough that the WAL's growth between two passes is small beside
/// their `RESTART_AFTER_FRAMES`, however slow the machine).
const EVERY: Duration = Duration::from_millis(if cfg!(test) { 20 } else { 200 });

/// WAL frames (pages) after which the writer is asked to finish a checkpoint: 64 MiB
/// of 4 KiB pages (1 MiB in unit tests, so they can cross it soon).
const RESTART_AFTER_FRAMES: i64 = if cfg!(test) { 256 } else { 16_384 };

/// A checkpoint that never waits for the writer. Its row: 1 when another checkpoint
/// held the WAL (else 0), the frames in the WAL, the frames copied back.
pub(super) const PASSIVE: &str = "PRAGMA wal_checkpoint(PASSIVE)";

/// Set when the WAL should start over: the writer copies what the background
/// checkpoints left (`take` tells it to, once).
#[derive(Clone, Default)]
pub(super) struct Backfill(Arc<AtomicBool>);

impl Backfill {
    pub(super) fn ask(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the writer was asked to finish a checkpoint, which it is then no longer.
    pub(super) fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

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

/// Starts checkpointing on `side`, a pool beside the writer's; `backfill` is set when
/// the WAL has grown long enough to start over.
pub(super) fn start(side: DatabaseConnection, backfill: Backfill) -> Checkpointer {
    Checkpointer(tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let pass = Statement::from_string(DbBackend::Sqlite, PASSIVE);
        loop {
            tick.tick().await;
            let frames = match side.query_one_raw(pass.clone()).await {
                Ok(row) => row.and_then(|r| r.try_get_by_index::<i64>(1).ok()),
                Err(e) => {
                    metrics::counter!("medrt_sqlite_checkpoint_errors_total").increment(1);
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                    None
                }
            };
            if frames.is_some_and(|f| f >= RESTART_AFTER_FRAMES) {
                backfill.ask();
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

    /// Two ledger writers that never pause: the WAL file stays within a few times
    /// the restart threshold while the database grows past eight times it (about
    /// 1.6 MB against 12 MB, also with both cores otherwise busy; without the writer's
    /// own checkpoint the WAL, holding every version of every page, reached 20 MB:
    /// checked).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_while_ledger_batches_never_pause() {
        use medrt_domain::ids::UserId;
        use medrt_domain::ledger::{Amount, IdempotencyKey, PointKind, TransferSpec};
        use sea_orm::ConnectionTrait;

        let (store, dir) = migrated_store().await;
        let threshold = super::RESTART_AFTER_FRAMES as u64 * 4096;
        let writer = |w: usize| {
            let store = store.clone();
            tokio::spawn(async move {
                for b in 0..150 {
                    let groups: Vec<Vec<TransferSpec>> = (0..100)
                        .map(|i| {
                            let key = IdempotencyKey::parse(&format!("w{w}-b{b}-{i}")).unwrap();
                            let one = Amount::new(1).unwrap();
                            vec![TransferSpec::grant(
                                key,
                                UserId::generate(),
                                PointKind::High,
                                one,
                            )]
                        })
                        .collect();
                    store.ledger().commit(&groups).await.unwrap();
                }
            })
        };
        let writers = [writer(0), writer(1)];
        for w in writers {
            w.await.unwrap();
        }
        let row = store
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
            ))
            .await
            .unwrap()
            .unwrap();
        let database: i64 = row.try_get_by_index(0).unwrap();
        let wal = std::fs::metadata(dir.path().join("medrt.db-wal"))
            .unwrap()
            .len();
        assert!(
            database as u64 > 8 * threshold,
            "too little was written to tell: {database} bytes"
        );
        assert!(
            wal < 8 * threshold,
            "the WAL grew to {wal} bytes (database {database} bytes)"
        );
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
