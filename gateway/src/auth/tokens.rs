//! JWTs (HS256) carrying the user id and role, with an expiry.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use medrt_domain::ids::UserId;
use medrt_domain::rbac::Principal;
use medrt_domain::role::Role;
use serde::{Deserialize, Serialize};

use crate::settings::Secret;

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: UserId,
    role: Role,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid")]
    Invalid,
}

impl Tokens {
    pub fn new(secret: &Secret, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            ttl,
        }
    }

    /// A token for `principal` and the moment it expires.
    pub fn issue(&self, principal: Principal) -> (String, DateTime<Utc>) {
        let now = Utc::now();
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: principal.user_id,
            role: principal.role,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, expires_at)
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        Ok(Principal {
            user_id: data.claims.sub,
            role: data.claims.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(secret: &str) -> Tokens {
        Tokens::new(&Secret::new(secret), Duration::from_secs(60))
    }

    #[test]
    fn issued_tokens_verify() {
        let t = tokens("a-secret-for-tests");
        let p = Principal {
            user_id: UserId::generate(),
            role: Role::Doctor,
        };
        let (token, expires_at) = t.issue(p);
        assert_eq!(t.verify(&token), Ok(p));
        assert!(expires_at > Utc::now());
    }

    #[test]
    fn tokens_signed_with_another_secret_or_tampered_are_invalid() {
        let p = Principal {
            user_id: UserId::generate(),
            role: Role::Patient,
        };
        let (token, _) = tokens("secret-one").issue(p);
        assert_eq!(
            tokens("secret-two").verify(&token),
            Err(TokenError::Invalid)
        );
        let mut tampered = token.clone();
        tampered.insert(token.len() / 2, 'x');
        assert_eq!(
            tokens("secret-one").verify(&tampered),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            tokens("secret-one").verify("not.a.jwt"),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let t = Tokens::new(&Secret::new("s"), Duration::ZERO);
        let claims = Claims {
            sub: UserId::generate(),
            role: Role::Admin,
            iat: 0,
            exp: Utc::now().timestamp() - 600,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &t.encoding).unwrap();
        assert_eq!(t.verify(&token), Err(TokenError::Expired));
    }
}
