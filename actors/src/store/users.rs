//! Accounts: registration, sub-accounts, contact details, lookups.

use chrono::{DateTime, Utc};
use medrt_domain::account::{Email, Phone, UserStatus, Username};
use medrt_domain::event::Event;
use medrt_domain::ids::{DistributorId, UserId};
use medrt_domain::role::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, Order, QueryFilter};

use super::entities::{referral_bindings, users};
use super::page::{self, Page, PageRequest};
use super::{Store, StoreError};

/// An account as the rest of the system sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub role: Role,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub parent_user_id: Option<UserId>,
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user together with the password hash, only for sign-in.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

pub struct NewUser {
    pub username: Username,
    pub password_hash: String,
    pub role: Role,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// The admin creating this account, if it is a sub-account.
    pub parent: Option<UserId>,
    /// The distributor whose referral code the user registered with.
    pub referred_by: Option<DistributorId>,
}

/// A change of contact details; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct ContactChange {
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<Phone>>,
}

pub struct Users<'a> {
    store: &'a Store,
}

impl<'a> Users<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Creates an account; a sub-account also tells its parent through the outbox.
    pub async fn create(&self, new: NewUser) -> Result<User, StoreError> {
        let now = Utc::now();
        let id = UserId::generate();
        let row = users::ActiveModel {
            id: Set(id.as_uuid()),
            username: Set(new.username.as_str().to_owned()),
            password_hash: Set(new.password_hash),
            role: Set(new.role.as_str().to_owned()),
            email: Set(new.email.map(|e| e.as_str().to_owned())),
            phone: Set(new.phone.map(|p| p.as_str().to_owned())),
            parent_user_id: Set(new.parent.map(|p| p.as_uuid())),
            status: Set(UserStatus::Active.as_str().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let txn = self.store.begin_write().await?;
        let model = row
            .insert(&txn)
            .await
            .map_err(|e| StoreError::unique(e, "username"))?;
        let user = to_user(model)?;
        if let Some(distributor) = new.referred_by {
            referral_bindings::ActiveModel {
                user_id: Set(user.id.as_uuid()),
                distributor_id: Set(distributor.as_uuid()),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        let events: Vec<Event> = new
            .parent
            .map(|parent| Event::SubAccountCreated {
                parent_user_id: parent,
                user_id: user.id,
                username: user.username.clone(),
                role: user.role,
            })
            .into_iter()
            .collect();
        self.store.commit_with_events(txn, &events, now).await?;
        Ok(user)
    }

    pub async fn credentials(
        &self,
        username: &Username,
    ) -> Result<Option<Credentials>, StoreError> {
        let row = users::Entity::find()
            .filter(users::Column::Username.eq(username.as_str()))
            .one(&self.store.db)
            .await?;
        row.map(|m| {
            let password_hash = m.password_hash.clone();
            Ok(Credentials {
                user: to_user(m)?,
                password_hash,
            })
        })
        .transpose()
    }

    pub async fn get(&self, id: UserId) -> Result<User, StoreError> {
        let row = users::Entity::find_by_id(id.as_uuid())
            .one(&self.store.db)
            .await?;
        row.map(to_user).transpose()?.ok_or(StoreError::NotFound)
    }

    /// Updates contact details and tells the user's sessions.
    pub async fn change_contact(
        &self,
        id: UserId,
        change: ContactChange,
    ) -> Result<User, StoreError> {
        let now = Utc::now();
        let txn = self.store.begin_write().await?;
        let row = users::Entity::find_by_id(id.as_uuid())
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut active: users::ActiveModel = row.into();
        if let Some(email) = change.email {
            active.email = Set(email.map(|e| e.as_str().to_owned()));
        }
        if let Some(phone) = change.phone {
            active.phone = Set(phone.map(|p| p.as_str().to_owned()));
        }
        active.updated_at = Set(now);
        let user = to_user(active.update(&txn).await?)?;
        let event = Event::UserUpdated {
            user_id: user.id,
            email: user.email.clone(),
            phone: user.phone.clone(),
        };
        self.store.commit_with_events(txn, &[event], now).await?;
        Ok(user)
    }

    /// The sub-accounts `parent` created, oldest first.
    pub async fn children(
        &self,
        parent: UserId,
        page: PageRequest,
    ) -> Result<Page<User>, StoreError> {
        page::fetch(
            &self.store.db,
            users::Entity::find().filter(users::Column::ParentUserId.eq(parent.as_uuid())),
            users::Column::Id,
            Order::Asc,
            page,
            to_user,
            |u| u.id.as_uuid(),
        )
        .await
    }

    /// Makes sure the configured super_admin exists. An existing account of that name is
    /// left untouched, so a restart never resets a password changed since.
    pub async fn ensure_super_admin(
        &self,
        username: &Username,
        password_hash: String,
    ) -> Result<bool, StoreError> {
        if self.credentials(username).await?.is_some() {
            return Ok(false);
        }
        let new = NewUser {
            username: username.clone(),
            password_hash,
            role: Role::SuperAdmin,
            email: None,
            phone: None,
            parent: None,
            referred_by: None,
        };
        match self.create(new).await {
            Ok(_) => Ok(true),
            // Another node bootstrapped it a moment ago.
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn to_user(m: users::Model) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::from_uuid(m.id),
        role: m.role.parse().map_err(StoreError::corrupt)?,
        status: m.status.parse().map_err(StoreError::corrupt)?,
        username: m.username,
        email: m.email,
        phone: m.phone,
        parent_user_id: m.parent_user_id.map(UserId::from_uuid),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}
