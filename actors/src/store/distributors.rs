//! The referral programme's distributors: who joined under whom, found by user or by
//! code, and their downline by materialised-path prefix (one indexed query at any depth).

use chrono::{DateTime, Utc};
use medrt_domain::distribution::{Lineage, ReferralCode};
use medrt_domain::ids::{DistributorId, UserId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, Order,
    PaginatorTrait, QueryFilter,
};

use super::commission_totals;
use super::entities::{distributors, referral_bindings};
use super::page::{self, Page, PageRequest};
use super::{Store, StoreError};

#[derive(Clone, Debug)]
pub struct DistributorRecord {
    pub id: DistributorId,
    pub user_id: UserId,
    pub referral_code: ReferralCode,
    pub upline_id: Option<DistributorId>,
    pub lineage: Lineage,
    pub path: String,
    pub created_at: DateTime<Utc>,
    /// Marked as fraud: earns nothing more.
    pub blocked: bool,
}

pub struct Distributors<'a> {
    store: &'a Store,
}

impl<'a> Distributors<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// `user` joins, under the distributor whose code is `upline` if given. A user joins
    /// once (`Conflict`); an unknown code is `NotFound`. `new_code` proposes codes until
    /// one is free.
    pub async fn join(
        &self,
        user: UserId,
        upline: Option<&ReferralCode>,
        mut new_code: impl FnMut() -> ReferralCode,
    ) -> Result<DistributorRecord, StoreError> {
        let txn = self.store.begin_write().await?;
        if find_by(&txn, distributors::Column::UserId.eq(user.as_uuid()))
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict("distributor"));
        }
        let id = DistributorId::generate();
        let lineage = match upline {
            None => Lineage::default(),
            Some(code) => {
                let above = find_by(&txn, distributors::Column::ReferralCode.eq(code.as_str()))
                    .await?
                    .ok_or(StoreError::NotFound)?;
                Lineage::under(id, above.id, &above.lineage)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?
            }
        };
        let mut code = new_code();
        while find_by(&txn, distributors::Column::ReferralCode.eq(code.as_str()))
            .await?
            .is_some()
        {
            code = new_code();
        }
        let row = distributors::ActiveModel {
            id: Set(id.as_uuid()),
            user_id: Set(user.as_uuid()),
            referral_code: Set(code.as_str().to_owned()),
            upline_id: Set(lineage.uplines(1).first().map(DistributorId::as_uuid)),
            lineage: Set(
                serde_json::to_string(&lineage).map_err(|e| StoreError::Corrupt(e.to_string()))?
            ),
            path: Set(lineage.path(id)),
            created_at: Set(Utc::now()),
            blocked_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(|e| StoreError::unique(e, "distributor"))?;
        commission_totals::open(&txn, id).await?;
        txn.commit().await?;
        to_record(row)
    }

    pub async fn by_code(&self, code: &ReferralCode) -> Result<DistributorRecord, StoreError> {
        find_by(
            &self.store.db,
            distributors::Column::ReferralCode.eq(code.as_str()),
        )
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// How many users registered with this distributor's code.
    pub async fn referred_users(&self, of: &DistributorRecord) -> Result<u64, StoreError> {
        Ok(referral_bindings::Entity::find()
            .filter(referral_bindings::Column::DistributorId.eq(of.id.as_uuid()))
            .count(&self.store.db)
            .await?)
    }

    pub async fn by_user(&self, user: UserId) -> Result<DistributorRecord, StoreError> {
        find_by(
            &self.store.db,
            distributors::Column::UserId.eq(user.as_uuid()),
        )
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// Everyone below `of`, at any depth, oldest first.
    pub async fn downline(
        &self,
        of: &DistributorRecord,
        page: PageRequest,
    ) -> Result<Page<DistributorRecord>, StoreError> {
        page::fetch(
            &self.store.db,
            below(of),
            distributors::Column::Id,
            Order::Asc,
            page,
            to_record,
            |r| r.id.as_uuid(),
        )
        .await
    }

    pub async fn downline_size(&self, of: &DistributorRecord) -> Result<u64, StoreError> {
        Ok(below(of).count(&self.store.db).await?)
    }
}

/// Everyone whose path extends `of`'s, at any depth.
fn below(of: &DistributorRecord) -> sea_orm::Select<distributors::Entity> {
    distributors::Entity::find()
        .filter(distributors::Column::Path.starts_with(&of.path))
        .filter(distributors::Column::Id.ne(of.id.as_uuid()))
}

pub(super) async fn find_by(
    db: &impl ConnectionTrait,
    condition: sea_orm::sea_query::SimpleExpr,
) -> Result<Option<DistributorRecord>, StoreError> {
    distributors::Entity::find()
        .filter(condition)
        .one(db)
        .await?
        .map(to_record)
        .transpose()
}

fn to_record(m: distributors::Model) -> Result<DistributorRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("distributor {}: {e}", m.id));
    Ok(DistributorRecord {
        id: DistributorId::from_uuid(m.id),
        user_id: UserId::from_uuid(m.user_id),
        referral_code: ReferralCode::parse(&m.referral_code).map_err(|e| corrupt(e.to_string()))?,
        upline_id: m.upline_id.map(DistributorId::from_uuid),
        lineage: serde_json::from_str(&m.lineage).map_err(|e| corrupt(e.to_string()))?,
        path: m.path.clone(),
        created_at: m.created_at,
        blocked: m.blocked_at.is_some(),
    })
}
