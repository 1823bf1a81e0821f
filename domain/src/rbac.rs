//! The permission policy: which role may do what, and whose objects a user may see.
//! Every HTTP route and WebSocket topic asks this module, and only this module.

use crate::ids::UserId;
use crate::role::Role;

/// The authenticated caller, as proven by a valid token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
}

/// Actions guarded by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// `POST /admin/sub-accounts`, `GET /admin/sub-accounts`.
    ManageSubAccounts,
    /// `POST /admin/announcements`.
    PublishAnnouncements,
    /// `GET /admin/users/{id}/presence`.
    ViewPresence,
    /// `POST /admin/points/grant`: new points from the issuance account.
    GrantPoints,
    /// `POST /points/allocate`: hand points to one's own sub-accounts.
    AllocatePoints,
    /// `GET|PUT /admin/config`: payment mode and prices.
    ManageLedgerConfig,
    /// `POST /admin/products`, `POST /admin/coupons`: the mall's catalogue.
    ManageMall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The role lacks the permission: the caller learns that the action exists (403).
    #[error("your role is not allowed to do this")]
    Forbidden,
    /// The object is not the caller's: it is reported as missing (404) so ids leak nothing.
    #[error("not found")]
    NotVisible,
}

impl Role {
    pub fn permits(self, permission: Permission) -> bool {
        match permission {
            Permission::ManageSubAccounts | Permission::ViewPresence => self.is_admin(),
            Permission::PublishAnnouncements
            | Permission::GrantPoints
            | Permission::ManageLedgerConfig
            | Permission::ManageMall => self == Role::SuperAdmin,
            Permission::AllocatePoints => self.is_admin(),
        }
    }
}

impl Principal {
    pub fn require(&self, permission: Permission) -> Result<(), Denied> {
        if self.role.permits(permission) {
            Ok(())
        } else {
            Err(Denied::Forbidden)
        }
    }

    /// A user sees their own account, the admin who created it sees it, and the
    /// super_admin sees everyone.
    pub fn may_view_user(
        &self,
        target: UserId,
        target_parent: Option<UserId>,
    ) -> Result<(), Denied> {
        let visible = self.role == Role::SuperAdmin
            || self.user_id == target
            || (self.role.is_admin() && target_parent == Some(self.user_id));
        if visible {
            Ok(())
        } else {
            Err(Denied::NotVisible)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal {
            user_id: UserId::generate(),
            role,
        }
    }

    #[test]
    fn only_admins_manage_sub_accounts() {
        for role in Role::ALL {
            let allowed = principal(role)
                .require(Permission::ManageSubAccounts)
                .is_ok();
            assert_eq!(allowed, role.is_admin(), "{role}");
        }
    }

    #[test]
    fn only_super_admin_announces() {
        for role in Role::ALL {
            let allowed = principal(role)
                .require(Permission::PublishAnnouncements)
                .is_ok();
            assert_eq!(allowed, role == Role::SuperAdmin, "{role}");
        }
    }

    #[test]
    fn users_see_themselves_and_their_children_only() {
        let admin = principal(Role::Admin);
        let child = UserId::generate();
        let stranger = UserId::generate();
        assert!(admin.may_view_user(admin.user_id, None).is_ok());
        assert!(admin.may_view_user(child, Some(admin.user_id)).is_ok());
        assert_eq!(
            admin.may_view_user(stranger, Some(UserId::generate())),
            Err(Denied::NotVisible)
        );

        let patient = principal(Role::Patient);
        assert_eq!(
            patient.may_view_user(child, Some(patient.user_id)),
            Err(Denied::NotVisible)
        );
        assert!(
            principal(Role::SuperAdmin)
                .may_view_user(stranger, None)
                .is_ok()
        );
    }
}
