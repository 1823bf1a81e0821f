//! The `settings` table: small JSON documents by key (the ledger's configuration, the
//! commission rules), readable on any connection so a transaction sees its own writes.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::entities::settings;

/// The document under `key`, or `None` if it was never written.
pub(super) async fn get<T: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let row = settings::Entity::find_by_id(key.to_owned())
        .one(conn)
        .await?;
    row.map(|r| serde_json::from_str(&r.value).map_err(StoreError::corrupt))
        .transpose()
}

pub(super) async fn put<T: Serialize>(
    conn: &impl ConnectionTrait,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let row = settings::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(serde_json::to_string(value).map_err(StoreError::corrupt)?),
    };
    settings::Entity::insert(row)
        .on_conflict(
            OnConflict::column(settings::Column::Key)
                .update_column(settings::Column::Value)
                .to_owned(),
        )
        .exec(conn)
        .await?;
    Ok(())
}
