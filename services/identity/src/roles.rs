//! Roles and scopes between their protobuf and kernel forms.

use kernel::auth::{Binding, Role, ScopeKind};
use lienlac_proto::identity::v1 as pb;
use uuid::Uuid;

pub(crate) fn role_from_proto(value: i32) -> Option<Role> {
    Some(match pb::Role::try_from(value).ok()? {
        pb::Role::Unspecified => return None,
        pb::Role::Operator => Role::Operator,
        pb::Role::DistrictAdmin => Role::DistrictAdmin,
        pb::Role::DistrictViewer => Role::DistrictViewer,
        pb::Role::Principal => Role::Principal,
        pb::Role::VicePrincipal => Role::VicePrincipal,
        pb::Role::ItOfficer => Role::ItOfficer,
        pb::Role::Teacher => Role::Teacher,
        pb::Role::Staff => Role::Staff,
        pb::Role::HomeroomTeacher => Role::HomeroomTeacher,
        pb::Role::Guardian => Role::Guardian,
        pb::Role::Service => Role::Service,
        pb::Role::Subscriber => Role::Subscriber,
        pb::Role::Mirror => Role::Mirror,
    })
}

pub(crate) fn role_to_proto(role: Role) -> pb::Role {
    match role {
        Role::Operator => pb::Role::Operator,
        Role::DistrictAdmin => pb::Role::DistrictAdmin,
        Role::DistrictViewer => pb::Role::DistrictViewer,
        Role::Principal => pb::Role::Principal,
        Role::VicePrincipal => pb::Role::VicePrincipal,
        Role::ItOfficer => pb::Role::ItOfficer,
        Role::Teacher => pb::Role::Teacher,
        Role::Staff => pb::Role::Staff,
        Role::HomeroomTeacher => pb::Role::HomeroomTeacher,
        Role::Guardian => pb::Role::Guardian,
        Role::Service => pb::Role::Service,
        Role::Subscriber => pb::Role::Subscriber,
        Role::Mirror => pb::Role::Mirror,
    }
}

pub(crate) fn scope_from_proto(value: i32) -> Option<ScopeKind> {
    Some(match pb::ScopeKind::try_from(value).ok()? {
        pb::ScopeKind::Unspecified => return None,
        pb::ScopeKind::Platform => ScopeKind::Platform,
        pb::ScopeKind::District => ScopeKind::District,
        pb::ScopeKind::School => ScopeKind::School,
        pb::ScopeKind::Class => ScopeKind::Class,
        pb::ScopeKind::Student => ScopeKind::Student,
    })
}

pub(crate) fn scope_to_proto(scope: ScopeKind) -> pb::ScopeKind {
    match scope {
        ScopeKind::Platform => pb::ScopeKind::Platform,
        ScopeKind::District => pb::ScopeKind::District,
        ScopeKind::School => pb::ScopeKind::School,
        ScopeKind::Class => pb::ScopeKind::Class,
        ScopeKind::Student => pb::ScopeKind::Student,
    }
}

pub(crate) fn scope_name(scope: ScopeKind) -> &'static str {
    match scope {
        ScopeKind::Platform => "platform",
        ScopeKind::District => "district",
        ScopeKind::School => "school",
        ScopeKind::Class => "class",
        ScopeKind::Student => "student",
    }
}

pub(crate) fn binding_to_proto(binding: &Binding, account_id: Uuid) -> pb::RoleBinding {
    let text = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    let school = match binding.scope {
        ScopeKind::School => binding.id,
        _ => binding.school,
    };
    pb::RoleBinding {
        role: role_to_proto(binding.role) as i32,
        scope_kind: scope_to_proto(binding.scope) as i32,
        scope_id: text(binding.id),
        district_id: text(binding.district),
        school_id: text(school),
        account_id: account_id.to_string(),
    }
}
