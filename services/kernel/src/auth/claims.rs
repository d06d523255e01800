//! What an access token says: the account, the person, and their role bindings.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const TOKEN_ISSUER: &str = "lienlac-identity";
pub const TOKEN_AUDIENCE: &str = "lienlac";

/// The roles a binding gives, each within its scope (docs/architecture.md, "Tenancy
/// and access").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    DistrictAdmin,
    DistrictViewer,
    Principal,
    VicePrincipal,
    ItOfficer,
    Teacher,
    Staff,
    HomeroomTeacher,
    Guardian,
    Service,
    Subscriber,
    /// The city database mirror (the sync service): writes and exports the
    /// directory, and nothing else.
    Mirror,
}

impl Role {
    pub const ALL: [Role; 13] = [
        Role::Operator,
        Role::DistrictAdmin,
        Role::DistrictViewer,
        Role::Principal,
        Role::VicePrincipal,
        Role::ItOfficer,
        Role::Teacher,
        Role::Staff,
        Role::HomeroomTeacher,
        Role::Guardian,
        Role::Service,
        Role::Subscriber,
        Role::Mirror,
    ];

    /// The scope a binding of this role is over.
    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Role::Operator | Role::Service | Role::Mirror => ScopeKind::Platform,
            Role::DistrictAdmin | Role::DistrictViewer | Role::Subscriber => ScopeKind::District,
            Role::Principal
            | Role::VicePrincipal
            | Role::ItOfficer
            | Role::Teacher
            | Role::Staff => ScopeKind::School,
            Role::HomeroomTeacher => ScopeKind::Class,
            Role::Guardian => ScopeKind::Student,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::DistrictAdmin => "district_admin",
            Role::DistrictViewer => "district_viewer",
            Role::Principal => "principal",
            Role::VicePrincipal => "vice_principal",
            Role::ItOfficer => "it_officer",
            Role::Teacher => "teacher",
            Role::Staff => "staff",
            Role::HomeroomTeacher => "homeroom_teacher",
            Role::Guardian => "guardian",
            Role::Service => "service",
            Role::Subscriber => "subscriber",
            Role::Mirror => "mirror",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Platform,
    District,
    School,
    Class,
    Student,
}

/// One role over one scope, with the scope's district and school so that a check
/// needs no lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Binding {
    pub role: Role,
    pub scope: ScopeKind,
    /// The district, school, class or student; `None` for the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school: Option<Uuid>,
}

/// The JWT claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The account.
    pub sub: Uuid,
    /// The person the account belongs to; none for the platform operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<Uuid>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The sign-in (refresh family) the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    pub roles: Vec<Binding>,
}
