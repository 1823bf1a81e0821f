//! The database: connection, migrations, and one repository per aggregate.
//! Architecture invariant: sea-orm types never leave this module.

mod announcements;
mod bulk_rows;
mod checkpoint;
mod chunks;
mod commission_totals;
mod commissions;
mod coupons;
mod distributors;
mod entities;
mod error;
mod jsonb;
mod jsonb_shared;
mod key_values;
mod ledger;
mod ledger_batch;
mod ledger_batch_events;
mod ledger_group;
mod ledger_history;
mod ledger_rows;
mod ledger_writer;
mod orders;
mod outbox;
pub mod page;
mod products;
mod script;
mod settings;
#[cfg(test)]
mod test_store;
mod users;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use medrt_domain::event::Event;
use medrt_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::Notify;

pub use announcements::{AnnouncementRecord, Announcements};
pub use commission_totals::Standing;
pub use commissions::{CommissionRecord, Commissions, PayoutRecord, Settled};
pub use coupons::Coupons;
pub use distributors::{DistributorRecord, Distributors};
pub use error::StoreError;
pub use ledger::{Audit, GroupOutcome, Ledger};
pub use ledger_history::HistoryCursor;
pub use orders::{NewOrder, OrderRecord, OrderRejected, Orders};
pub use outbox::{Claim, Outbox, Replay};
pub use page::{Cursor, Page, PageCursor, PageRequest};
pub use products::{ProductRecord, Products};
pub use settings::DatabaseSettings;
pub use users::{ContactChange, Credentials, NewUser, User, Users};

/// Rows SQLite's connection thread may hand over before the caller takes them. sqlx's
/// default (50) parks that thread every 50 rows of a large result until the caller
/// has taken them: a thread hand-off each way per 50 rows, the database idle meanwhile.
const ROW_BUFFER: usize = 4096;

/// The folder of a SQLite file URL, which must exist before SQLite can create the file.
fn sqlite_dir(url: &str) -> Option<&std::path::Path> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    let dir = std::path::Path::new(path).parent()?;
    (!dir.as_os_str().is_empty() && path != ":memory:").then_some(dir)
}

/// Handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Reads that need not see uncommitted work and should not wait for the writer
    /// (the same pool as `db` except for SQLite on disk).
    reader: DatabaseConnection,
    /// Woken after every commit that wrote to the outbox, so the relay publishes at once.
    outbox_written: Arc<Notify>,
    /// SQLite on disk: WAL checkpoints in the background (see `checkpoint`).
    checkpointer: Option<Arc<checkpoint::Checkpointer>>,
    /// SQLite: the connection kept between ledger batches (see `ledger_writer`).
    ledger_writer: Option<ledger_writer::LedgerWriter>,
}

impl Store {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        if let Some(dir) = sqlite_dir(&settings.url) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Location(format!("{}: {e}", dir.display())))?;
        }
        let mut options = ConnectOptions::new(settings.url.clone());
        // SQLite has one writer; with several pooled connections, a connection whose
        // read snapshot is stale cannot take the write lock and fails at once
        // (SQLITE_BUSY without waiting). One connection serialises cleanly instead.
        let is_sqlite = settings.url.starts_with("sqlite:");
        let max_connections = if is_sqlite {
            1
        } else {
            settings.max_connections
        };
        options
            .max_connections(max_connections)
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
            .sqlx_logging(false)
            // A ping on every checkout costs a round trip per transaction; only a
            // connection idle long enough to have been dropped is checked.
            .test_before_acquire_if_idle_for(Duration::from_secs(30))
            // No background pool task at all (connections open on demand): sqlx 0.9.0's
            // idle/lifetime reaper loops `num_idle` times without yielding, and that
            // counter briefly wraps below zero when a connection is taken while another
            // is being returned; the reaper then pins a runtime worker forever (seen in
            // a thread dump of a hung test). A kept-warm minimum would spawn a task too.
            .idle_timeout(None)
            .max_lifetime(None);
        let busy_timeout = Duration::from_millis(settings.sqlite_busy_timeout_ms);
        // SQLite on disk also gets connections beside the writer, which WAL lets read
        // while it writes: for the outbox relay's scans and the WAL checkpoints, which
        // then no longer run inside the writer's commits.
        let background_checkpoints = sqlite_dir(&settings.url).is_some();
        options.map_sqlx_sqlite_opts(move |o| {
            let o = o
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
                .create_if_missing(true)
                .row_buffer_size(ROW_BUFFER)
                .pragma("cache_size", "-16384");
            if background_checkpoints {
                o.pragma("wal_autocheckpoint", "0")
            } else {
                o
            }
        });
        let backfill = checkpoint::Backfill::default();
        let (reader, checkpointer) = if background_checkpoints {
            let mut side = options.clone();
            side.max_connections(2);
            let reader = Database::connect(side).await?;
            let checkpoints = checkpoint::start(reader.clone(), backfill.clone());
            (Some(reader), Some(Arc::new(checkpoints)))
        } else {
            (None, None)
        };
        let db = Database::connect(options).await?;
        Ok(Self {
            reader: reader.unwrap_or_else(|| db.clone()),
            db,
            outbox_written: Arc::new(Notify::new()),
            checkpointer,
            ledger_writer: is_sqlite.then(|| ledger_writer::LedgerWriter::new(backfill)),
        })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Round-trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// How many write transactions may usefully run at once: SQLite has one writer.
    pub fn concurrent_writers(&self) -> usize {
        match self.db.get_database_backend() {
            DbBackend::Postgres => 2,
            _ => 1,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Postgres => "postgres",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    /// A transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred one that read first could not upgrade once another
    /// connection had committed, and would fail instead of waiting its turn.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    pub fn users(&self) -> Users<'_> {
        Users::new(self)
    }

    pub fn outbox(&self) -> Outbox<'_> {
        Outbox::new(self)
    }

    pub fn ledger(&self) -> Ledger<'_> {
        Ledger::new(self)
    }

    pub fn announcements(&self) -> Announcements<'_> {
        Announcements::new(self)
    }

    pub fn distributors(&self) -> Distributors<'_> {
        Distributors::new(self)
    }

    pub fn products(&self) -> Products<'_> {
        Products::new(self)
    }

    pub fn coupons(&self) -> Coupons<'_> {
        Coupons::new(self)
    }

    pub fn orders(&self) -> Orders<'_> {
        Orders::new(self)
    }

    pub fn commissions(&self) -> Commissions<'_> {
        Commissions::new(self)
    }

    /// Appends `events` to the outbox in `txn`, commits, and wakes the relay if there
    /// were any: the one way a change and its events are committed together.
    pub(crate) async fn commit_with_events(
        &self,
        txn: DatabaseTransaction,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Outbox::append_all(&txn, events, now).await?;
        txn.commit().await?;
        if !events.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(())
    }

    /// The signal the outbox relay waits on.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_written.clone()
    }

    /// Stops the background checkpoints and closes both pools, waiting for connections
    /// in use to come back, so another `Store` can open the same file afterwards.
    pub async fn close(self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop();
        }
        let _ = self.db.close_by_ref().await;
        let _ = self.reader.close_by_ref().await;
    }
}

#[cfg(test)]
mod tests {
    use super::test_store::migrated_store;

    /// sqlx's pool tasks can pin a runtime worker (see `Store::connect`): neither the
    /// writer's pool nor the one beside it runs a reaper or keeps a minimum.
    #[tokio::test]
    async fn pools_run_no_background_task() {
        let (store, _dir) = migrated_store().await;
        for db in [&store.db, &store.reader] {
            let options = db.get_sqlite_connection_pool().options();
            assert_eq!(options.get_idle_timeout(), None);
            assert_eq!(options.get_max_lifetime(), None);
            assert_eq!(options.get_min_connections(), 0);
        }
    }
}
