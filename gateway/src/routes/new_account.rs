//! The fields every new account needs, shared by self-registration and sub-accounts.

use medrt_actors::store::{NewUser, User};
use medrt_domain::account::{Email, Password, Phone, Username};
use medrt_domain::ids::{DistributorId, UserId};
use medrt_domain::role::Role;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct AccountFields {
    /// 3–32 letters, digits, `_`, `.` or `-`; stored lower-case.
    username: String,
    /// 8–128 characters.
    password: String,
    email: Option<String>,
    phone: Option<String>,
}

impl AccountFields {
    /// Parses the fields, hashes the password and stores the account.
    pub async fn create(
        self,
        state: &AppState,
        role: Role,
        parent: Option<UserId>,
        referred_by: Option<DistributorId>,
    ) -> Result<User, ApiError> {
        let username = Username::parse(&self.username)?;
        let password = Password::parse(&self.password)?;
        let email = self.email.as_deref().map(Email::parse).transpose()?;
        let phone = self.phone.as_deref().map(Phone::parse).transpose()?;
        let password_hash = state
            .passwords
            .hash(password)
            .await
            .map_err(ApiError::internal)?;
        let new = NewUser {
            username,
            password_hash,
            role,
            email,
            phone,
            parent,
            referred_by,
        };
        Ok(state.platform.store().users().create(new).await?)
    }
}
