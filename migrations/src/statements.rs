//! Raw SQL for migrations that sea-query cannot express (table rebuilds, partial
//! indexes, backfills).

use sea_orm_migration::prelude::*;

/// Runs `statements` in order on the migration's connection.
pub(crate) async fn execute_all(
    manager: &SchemaManager<'_>,
    statements: &[&str],
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}
