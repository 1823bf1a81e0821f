//! Raw SQL for migrations that sea-query cannot express (table rebuilds, partial
//! indexes, backfills).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Runs `statements` in order on the migration's connection.
pub(crate) async fn execute_all(
    manager: &SchemaManager<'_>,
    statements: &[impl AsRef<str>],
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql.as_ref()).await?;
    }
    Ok(())
}

/// Runs `statements` in order, only on a `backend` database: a change one backend
/// needs and the other already has.
pub(crate) async fn execute_all_on(
    manager: &SchemaManager<'_>,
    backend: DbBackend,
    statements: &[impl AsRef<str>],
) -> Result<(), DbErr> {
    if manager.get_database_backend() == backend {
        execute_all(manager, statements).await?;
    }
    Ok(())
}
