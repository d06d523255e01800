//! How an account stands, in the words its rules, its events and its table share.

/// Where an account stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountStatus {
    /// Issued with a one-time activation code, not yet activated.
    Issued,
    /// Activated: signs in with its password.
    Active,
}

impl AccountStatus {
    /// The `accounts.status` column.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "issued" => Some(Self::Issued),
            "active" => Some(Self::Active),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Active => "active",
        }
    }
}

/// How an administrator's lock names its reason (`AccountLocked.reason`), alone or
/// followed by `: ` and the administrator's words.
pub(crate) const LOCKED_BY_ADMINISTRATOR: &str = "by_administrator";
/// The reason of a lock after failed sign-ins.
pub(crate) const LOCKED_BY_SIGN_INS: &str = "failed_logins";

/// Whether a lock's reason is an administrator's.
pub(crate) fn locked_by_administrator(reason: &str) -> bool {
    reason.starts_with(LOCKED_BY_ADMINISTRATOR)
}
