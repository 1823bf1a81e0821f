//! A store for unit tests: SQLite in a temporary folder, migrated.

use super::{DatabaseSettings, Store};

/// A migrated store on a SQLite file in a folder of its own (deleted on drop).
pub(super) async fn migrated_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("medrt.db").display()
    );
    let store = Store::connect(&DatabaseSettings::with_url(url))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}
