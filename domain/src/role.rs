//! The five roles and the rules on who may create which account.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Patient,
    Doctor,
    Distributor,
    Admin,
    SuperAdmin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: expected patient, doctor, distributor, admin or super_admin")]
pub struct UnknownRole(pub String);

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Patient,
        Role::Doctor,
        Role::Distributor,
        Role::Admin,
        Role::SuperAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Doctor => "doctor",
            Role::Distributor => "distributor",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    /// Roles anyone may pick when registering themselves.
    pub fn is_self_registrable(self) -> bool {
        matches!(self, Role::Patient | Role::Doctor | Role::Distributor)
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::SuperAdmin)
    }

    /// Whether an account of this role may create a sub-account of role `child`.
    /// Admins create the self-registrable roles; a super_admin may also create admins.
    /// Nobody creates a super_admin: it is bootstrapped from configuration.
    pub fn may_create_sub_account(self, child: Role) -> bool {
        match self {
            Role::SuperAdmin => child != Role::SuperAdmin,
            Role::Admin => child.is_self_registrable(),
            _ => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
    }

    #[test]
    fn unknown_role_is_rejected() {
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn only_three_roles_self_register() {
        let open: Vec<_> = Role::ALL
            .into_iter()
            .filter(|r| r.is_self_registrable())
            .collect();
        assert_eq!(open, vec![Role::Patient, Role::Doctor, Role::Distributor]);
    }

    #[test]
    fn sub_account_rules() {
        assert!(Role::Admin.may_create_sub_account(Role::Doctor));
        assert!(!Role::Admin.may_create_sub_account(Role::Admin));
        assert!(Role::SuperAdmin.may_create_sub_account(Role::Admin));
        assert!(!Role::SuperAdmin.may_create_sub_account(Role::SuperAdmin));
        for child in Role::ALL {
            assert!(!Role::Patient.may_create_sub_account(child));
            assert!(!Role::Doctor.may_create_sub_account(child));
            assert!(!Role::Distributor.may_create_sub_account(child));
        }
    }
}
