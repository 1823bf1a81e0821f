//! The transaction a ledger batch writes in. On SQLite every round trip wakes the
//! connection's own thread, and under load a woken thread waits about a fifth of a
//! millisecond for a CPU (`perf sched`): a pooled transaction costs three more such
//! wakes than its two scripts (`BEGIN`, `COMMIT`, and the ping with which sqlx takes a
//! connection back). So a batch sends its `BEGIN IMMEDIATE` and `COMMIT` with its own
//! statements, and consecutive SQLite batches keep one connection (`LedgerWriter`).
//! A connection is kept only for a batch already waiting for it, and for at most
//! `HOLD_AT_MOST`: otherwise it goes back to the pool, where the store's other writers
//! (SQLite has one connection for them all) get their turn.
//! PostgreSQL batches use an ordinary pooled transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, Executor, Row, Sqlite};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, Values,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::checkpoint::{self, Backfill};
use super::script::Script;
use super::{Store, StoreError};

/// Longest the ledger keeps SQLite's connection from the store's other writers.
const HOLD_AT_MOST: Duration = Duration::from_millis(50);

/// The SQLite connection kept between ledger batches, if one is.
#[derive(Clone)]
pub(super) struct LedgerWriter {
    slot: Arc<Mutex<Kept>>,
    /// Batches waiting for the slot.
    queued: Arc<AtomicUsize>,
    /// Set when this writer should finish a WAL checkpoint (see `checkpoint`).
    backfill: Backfill,
}

#[derive(Default)]
struct Kept {
    conn: Option<PoolConnection<Sqlite>>,
    since: Option<Instant>,
}

impl LedgerWriter {
    pub fn new(backfill: Backfill) -> Self {
        Self {
            slot: Arc::new(Mutex::new(Kept::default())),
            queued: Arc::new(AtomicUsize::new(0)),
            backfill,
        }
    }
}

/// A batch counted among those waiting for the slot, until it has it or gives up
/// (its future dropped): a batch that stopped waiting must not keep a connection.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn join(queued: &'a AtomicUsize) -> Self {
        queued.fetch_add(1, Ordering::SeqCst);
        Self(queued)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A ledger batch's transaction.
pub(super) enum BatchTxn {
    Pooled(DatabaseTransaction),
    Kept(KeptTxn),
}

impl BatchTxn {
    /// Begins at once on PostgreSQL; on SQLite the first script sent begins it.
    pub async fn begin(store: &Store) -> Result<Self, StoreError> {
        let Some(writer) = &store.ledger_writer else {
            return Ok(Self::Pooled(store.begin_write().await?));
        };
        let queued = Queued::join(&writer.queued);
        let mut kept = writer.slot.clone().lock_owned().await;
        drop(queued);
        let conn = match kept.conn.take() {
            Some(conn) => conn,
            None => {
                let pool = store.db.get_sqlite_connection_pool();
                let conn = pool.acquire().await.map_err(exec_err)?;
                // The hold limit counts from here, not from the wait for the pool.
                kept.since = Some(Instant::now());
                conn
            }
        };
        Ok(Self::Kept(KeptTxn {
            conn: Mutex::new(Some(conn)),
            kept,
            queued: writer.queued.clone(),
            backfill: writer.backfill.clone(),
            ended: false,
        }))
    }

    /// The first script of a batch on `store`: on SQLite it begins the transaction.
    pub fn opening_script(store: &Store) -> Script {
        let mut script = Script::new(store.db.get_database_backend());
        if store.ledger_writer.is_some() {
            script.push(Vec::new(), |_| "BEGIN IMMEDIATE".to_owned());
        }
        script
    }

    /// Ends `script` with the commit, on SQLite; `committed` must follow its success.
    pub fn close_script(&self, script: &mut Script) {
        if matches!(self, Self::Kept(_)) {
            script.push(Vec::new(), |_| "COMMIT".to_owned());
        }
    }

    /// Commits: on SQLite the script `close_script` ended has already.
    pub async fn committed(self) -> Result<(), StoreError> {
        match self {
            Self::Pooled(txn) => Ok(txn.commit().await?),
            Self::Kept(mut txn) => {
                txn.ended = true;
                if txn.backfill.take() {
                    txn.finish_checkpoint().await;
                }
                Ok(())
            }
        }
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Self::Pooled(txn) => Ok(txn.rollback().await?),
            Self::Kept(mut txn) => {
                txn.execute_unprepared("ROLLBACK").await?;
                txn.ended = true;
                Ok(())
            }
        }
    }
}

/// A transaction on the kept SQLite connection.
pub(super) struct KeptTxn {
    /// Taken from the slot for the batch; a mutex only because sea-orm's statements
    /// borrow their connection shared.
    conn: Mutex<Option<PoolConnection<Sqlite>>>,
    kept: OwnedMutexGuard<Kept>,
    queued: Arc<AtomicUsize>,
    backfill: Backfill,
    /// Committed or rolled back. A batch abandoned midway (an error) may leave its
    /// transaction open, so its connection is closed rather than used again.
    ended: bool,
}

impl Drop for KeptTxn {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.get_mut().take() else {
            return;
        };
        let wanted = self.queued.load(Ordering::SeqCst) > 0
            && self
                .kept
                .since
                .is_some_and(|since| since.elapsed() < HOLD_AT_MOST);
        if !self.ended {
            conn.close_on_drop();
        } else if wanted {
            self.kept.conn = Some(conn);
            return;
        }
        self.kept.since = None;
    }
}

impl KeptTxn {
    /// Copies what the background checkpoints left: nothing is appended while this
    /// runs, so it copies every frame and the next batch starts the WAL over. Blocked
    /// by a background checkpoint still copying (or failed), it is asked again of the
    /// next batch; the batch has committed whatever happens here.
    async fn finish_checkpoint(&self) {
        let pass = self.with(async |c| {
            let row = sqlx::query(checkpoint::PASSIVE).fetch_one(&mut **c);
            // Its first column says whether another checkpoint held the WAL.
            row.await?.try_get::<i64, _>(0)
        });
        match pass.await {
            Ok(0) => {}
            Ok(_) => self.backfill.ask(),
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint after a batch failed");
                self.backfill.ask();
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let done = self.with(async |c| c.execute(sqlx::AssertSqlSafe(sql)).await);
        done.await.map(Into::into)
    }

    async fn with<T>(
        &self,
        run: impl AsyncFnOnce(&mut PoolConnection<Sqlite>) -> Result<T, sqlx::Error>,
    ) -> Result<T, DbErr> {
        let mut conn = self.conn.lock().await;
        let conn = conn.as_mut().expect("a connection until the batch ends");
        run(conn).await.map_err(exec_err)
    }
}

/// `e` as sea-orm reports sqlx's errors, so `sql_err` reads them the same.
fn exec_err(e: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
}

/// The statement as sqlx's query, its values moved rather than copied.
fn query(stmt: Statement) -> sqlx::query::Query<'static, Sqlite, SqlxValues> {
    let values = stmt.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql), SqlxValues(values))
}

#[async_trait::async_trait]
impl ConnectionTrait for BatchTxn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Pooled(txn) => txn.get_database_backend(),
            Self::Kept(_) => DbBackend::Sqlite,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pooled(txn) => txn.execute_raw(stmt).await,
            Self::Kept(txn) => {
                let done = txn.with(async |c| query(stmt).execute(&mut **c).await);
                done.await.map(Into::into)
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pooled(txn) => txn.execute_unprepared(sql).await,
            Self::Kept(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Pooled(txn) => txn.query_one_raw(stmt).await,
            Self::Kept(txn) => {
                let row = txn.with(async |c| query(stmt).fetch_optional(&mut **c).await);
                row.await.map(|row| row.map(Into::into))
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Pooled(txn) => txn.query_all_raw(stmt).await,
            Self::Kept(txn) => {
                let rows = txn.with(async |c| query(stmt).fetch_all(&mut **c).await);
                rows.await
                    .map(|rows| rows.into_iter().map(Into::into).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store::migrated_store;

    /// Begins a batch and runs `sql` in it as one script, as a batch does (ending with
    /// `COMMIT` when `commit`).
    async fn batch(store: &Store, sql: &str, commit: bool) -> BatchTxn {
        let txn = BatchTxn::begin(store).await.unwrap();
        let mut script = BatchTxn::opening_script(store);
        script.push(Vec::new(), |_| sql.to_owned());
        if commit {
            txn.close_script(&mut script);
        }
        script.execute(&txn).await.unwrap();
        txn
    }

    /// A store with an empty table `t (x)`, made by a batch nobody waited after.
    async fn store_with_table() -> (Store, tempfile::TempDir) {
        let (store, dir) = migrated_store().await;
        let txn = batch(&store, "CREATE TABLE t (x INTEGER)", true).await;
        txn.committed().await.unwrap();
        (store, dir)
    }

    async fn sum(store: &Store) -> i64 {
        let sql = "SELECT coalesce(sum(x), 0) FROM t";
        let row = store
            .db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// A pooled write must get SQLite's one connection soon, not after a timeout.
    async fn pooled_write_gets_the_connection(store: &Store) {
        let txn = tokio::time::timeout(Duration::from_secs(2), store.begin_write())
            .await
            .expect("the connection went back to the pool")
            .unwrap();
        txn.rollback().await.unwrap();
    }

    #[tokio::test]
    async fn a_batch_nobody_waits_after_gives_the_connection_back() {
        let (store, _dir) = store_with_table().await;
        pooled_write_gets_the_connection(&store).await;
    }

    /// When the kept connection was taken from the pool.
    fn taken_at(txn: &BatchTxn) -> Instant {
        match txn {
            BatchTxn::Kept(txn) => txn.kept.since.expect("a kept connection's age"),
            BatchTxn::Pooled(_) => panic!("SQLite keeps its connection"),
        }
    }

    /// A batch that inserted 1 into `t`, and a second (inserting 2) waiting for it.
    async fn two_batches(store: &Store) -> (BatchTxn, tokio::task::JoinHandle<BatchTxn>) {
        let first = batch(store, "INSERT INTO t VALUES (1)", true).await;
        let waiting = tokio::spawn({
            let store = store.clone();
            async move { batch(&store, "INSERT INTO t VALUES (2)", true).await }
        });
        let writer = store.ledger_writer.clone().unwrap();
        while writer.queued.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        (first, waiting)
    }

    /// Commits a batch after `held` while a second one waits, and then the second:
    /// whether the second got the first's connection without going to the pool.
    async fn next_batch_kept_the_connection(store: &Store, held: Duration) -> bool {
        let (first, waiting) = two_batches(store).await;
        tokio::time::sleep(held).await;
        let taken = taken_at(&first);
        first.committed().await.unwrap();
        let second = waiting.await.unwrap();
        let kept = taken_at(&second) == taken;
        second.committed().await.unwrap();
        assert_eq!(sum(store).await, 3);
        pooled_write_gets_the_connection(store).await;
        kept
    }

    #[tokio::test]
    async fn the_next_batch_waiting_gets_the_same_connection() {
        let (store, _dir) = store_with_table().await;
        assert!(next_batch_kept_the_connection(&store, Duration::ZERO).await);
    }

    #[tokio::test]
    async fn a_connection_kept_too_long_goes_back_to_the_pool_between_batches() {
        let (store, _dir) = store_with_table().await;
        let longer = HOLD_AT_MOST + Duration::from_millis(10);
        assert!(!next_batch_kept_the_connection(&store, longer).await);
    }

    #[tokio::test]
    async fn a_batch_that_stops_waiting_is_not_kept_a_connection() {
        let (store, _dir) = store_with_table().await;
        let (first, waiting) = two_batches(&store).await;
        waiting.abort();
        assert!(waiting.await.is_err_and(|e| e.is_cancelled()));
        first.committed().await.unwrap();
        assert_eq!(sum(&store).await, 1);
        pooled_write_gets_the_connection(&store).await;
    }

    #[tokio::test]
    async fn a_batch_abandoned_midway_leaves_no_open_transaction_behind() {
        let (store, _dir) = store_with_table().await;
        // An error between a batch's two scripts drops it with its transaction open.
        drop(batch(&store, "INSERT INTO t VALUES (1)", false).await);
        let txn = batch(&store, "INSERT INTO t VALUES (2)", true).await;
        txn.committed().await.unwrap();
        assert_eq!(sum(&store).await, 2);
        pooled_write_gets_the_connection(&store).await;
    }

    #[tokio::test]
    async fn a_rolled_back_batch_moves_nothing() {
        let (store, _dir) = store_with_table().await;
        let txn = batch(&store, "INSERT INTO t VALUES (1)", false).await;
        txn.rollback().await.unwrap();
        assert_eq!(sum(&store).await, 0);
        pooled_write_gets_the_connection(&store).await;
    }
}
