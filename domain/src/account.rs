//! Parsed account input. Handlers only ever hold these types, never raw strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountInputError {
    #[error("username must be 3 to 32 characters of letters, digits, '_', '.' or '-'")]
    Username,
    #[error("password must be 8 to 128 characters and not only spaces")]
    Password,
    #[error("email address is not valid")]
    Email,
    #[error("phone number must be 6 to 20 digits, optionally starting with '+'")]
    Phone,
}

/// A login name, stored lower-case so `Bob` and `bob` cannot both exist.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, AccountInputError> {
        let name = raw.trim().to_lowercase();
        let len = name.chars().count();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !(3..=32).contains(&len) || !name.chars().all(allowed) {
            return Err(AccountInputError::Username);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A plaintext password on its way to the hasher. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, AccountInputError> {
        let len = raw.chars().count();
        if !(8..=128).contains(&len) || raw.trim().is_empty() {
            return Err(AccountInputError::Password);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AccountInputError> {
        let email = raw.trim();
        let Some((local, domain)) = email.split_once('@') else {
            return Err(AccountInputError::Email);
        };
        let ok = email.len() <= 254
            && !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(AccountInputError::Email);
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, AccountInputError> {
        let phone = raw.trim();
        let digits = phone.strip_prefix('+').unwrap_or(phone);
        if !(6..=20).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(AccountInputError::Phone);
        }
        Ok(Self(phone.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether an account may sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown user status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for UserStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(UserStatus::Active),
            "disabled" => Ok(UserStatus::Disabled),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_restricted() {
        assert_eq!(Username::parse(" Alice_1 ").unwrap().as_str(), "alice_1");
        for bad in ["ab", "", "with space", "名字名字", "a/b", &"x".repeat(33)] {
            assert_eq!(
                Username::parse(bad),
                Err(AccountInputError::Username),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn passwords_need_eight_to_128_chars() {
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse("密码密码密码密码").is_ok());
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("        ").is_err());
        assert!(Password::parse(&"p".repeat(129)).is_err());
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn emails_and_phones() {
        assert!(Email::parse("dr.li@hospital.cn").is_ok());
        for bad in ["no-at", "@x.com", "a@b", "a@.com", "a b@c.com", "a@b.com."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Phone::parse("+8613800138000").is_ok());
        assert!(Phone::parse("12345").is_err());
        assert!(Phone::parse("+86-138").is_err());
    }

    #[test]
    fn status_round_trips() {
        for s in [UserStatus::Active, UserStatus::Disabled] {
            assert_eq!(s.as_str().parse::<UserStatus>(), Ok(s));
        }
        assert!("banned".parse::<UserStatus>().is_err());
    }
}
