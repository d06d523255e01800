//! Who may grant a role, and who may administer an account (reset its password,
//! lock or unlock it): pure rules over role bindings, no I/O.
//!
//! Administering an account hands its sign-in to the administrator (a reset
//! returns the new activation code), so a caller administers an account only if
//! they could grant every binding it holds. Bindings that follow from the
//! directory (staff of a school, homeroom teacher of a class, guardian of a
//! student) are administered by whoever may change that school's directory; a
//! guardian is therefore administered by a school only when every child of theirs
//! studies there. Platform and district accounts are administered from above
//! only: by the operator.

use kernel::auth::{Binding, Caller, Role, ScopeKind, Target};

use crate::access::SCHOOL_ADMINS;

/// School leaders: granted by the district or the school's principal.
const LEADER_GRANTERS: &[Role] = &[Role::Operator, Role::DistrictAdmin, Role::Principal];
const DISTRICT_GRANTERS: &[Role] = &[Role::Operator, Role::DistrictAdmin];
const PLATFORM: &[Role] = &[Role::Operator];

/// Who may grant `role` over its scope (`GrantRole`, `RevokeRole`).
pub(crate) fn granters(role: Role) -> &'static [Role] {
    match role {
        Role::Operator | Role::Service | Role::Mirror => PLATFORM,
        Role::DistrictAdmin | Role::DistrictViewer | Role::Subscriber => DISTRICT_GRANTERS,
        Role::Principal | Role::VicePrincipal | Role::ItOfficer => LEADER_GRANTERS,
        Role::Teacher | Role::Staff | Role::HomeroomTeacher | Role::Guardian => SCHOOL_ADMINS,
    }
}

/// Who may administer an account holding a binding of `role`: its granters, but
/// only the operator for platform and district roles.
pub(crate) fn administrators(role: Role) -> &'static [Role] {
    match role.scope_kind() {
        ScopeKind::Platform | ScopeKind::District => PLATFORM,
        ScopeKind::School | ScopeKind::Class | ScopeKind::Student => granters(role),
    }
}

/// Where a binding applies, as an authorisation target.
pub(crate) fn binding_target(binding: &Binding) -> Target {
    let district = binding.district;
    let school = match binding.scope {
        ScopeKind::School => binding.id,
        _ => binding.school,
    };
    Target {
        district,
        school,
        class: (binding.scope == ScopeKind::Class)
            .then_some(binding.id)
            .flatten(),
        student: (binding.scope == ScopeKind::Student)
            .then_some(binding.id)
            .flatten(),
    }
}

/// Whether `caller` may administer an account that holds `holdings`. An account
/// holding nothing is administered by its person's district (`home`), or by the
/// operator when it has no person.
pub(crate) fn may_administer(caller: &Caller, holdings: &[Binding], home: Option<Target>) -> bool {
    if holdings.is_empty() {
        return match home {
            Some(home) => caller.holds(DISTRICT_GRANTERS, &home),
            None => caller.holds(PLATFORM, &Target::platform()),
        };
    }
    holdings
        .iter()
        .all(|binding| caller.holds(administrators(binding.role), &binding_target(binding)))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    struct Place {
        district: Uuid,
        school: Uuid,
        other_school: Uuid,
        other_district: Uuid,
        class: Uuid,
    }

    fn place() -> Place {
        Place {
            district: Uuid::now_v7(),
            school: Uuid::now_v7(),
            other_school: Uuid::now_v7(),
            other_district: Uuid::now_v7(),
            class: Uuid::now_v7(),
        }
    }

    fn school_binding(role: Role, district: Uuid, school: Uuid) -> Binding {
        Binding {
            role,
            scope: ScopeKind::School,
            id: Some(school),
            district: Some(district),
            school: None,
        }
    }

    fn district_binding(role: Role, district: Uuid) -> Binding {
        Binding {
            role,
            scope: ScopeKind::District,
            id: Some(district),
            district: Some(district),
            school: None,
        }
    }

    fn guardian_of(district: Uuid, school: Uuid) -> Binding {
        Binding {
            role: Role::Guardian,
            scope: ScopeKind::Student,
            id: Some(Uuid::now_v7()),
            district: Some(district),
            school: Some(school),
        }
    }

    fn operator() -> Binding {
        Binding {
            role: Role::Operator,
            scope: ScopeKind::Platform,
            id: None,
            district: None,
            school: None,
        }
    }

    /// A caller holding `role` in school A of district 1 (district roles: district 1).
    fn caller(p: &Place, role: Role) -> Caller {
        let binding = match role.scope_kind() {
            ScopeKind::Platform => operator(),
            ScopeKind::District => district_binding(role, p.district),
            _ => school_binding(role, p.district, p.school),
        };
        Caller {
            account_id: Uuid::now_v7(),
            person_id: Some(Uuid::now_v7()),
            session: None,
            bindings: vec![binding, school_binding(Role::Staff, p.district, p.school)],
        }
    }

    /// What an account holding `role` in school A holds, with its staff binding.
    fn holdings(p: &Place, role: Role) -> Vec<Binding> {
        let staff = school_binding(Role::Staff, p.district, p.school);
        match role {
            Role::Operator => vec![operator()],
            Role::DistrictAdmin | Role::DistrictViewer => {
                vec![district_binding(role, p.district), staff]
            }
            Role::HomeroomTeacher => vec![
                Binding {
                    role,
                    scope: ScopeKind::Class,
                    id: Some(p.class),
                    district: Some(p.district),
                    school: Some(p.school),
                },
                staff,
            ],
            Role::Guardian => vec![guardian_of(p.district, p.school)],
            Role::Staff => vec![staff],
            _ => vec![school_binding(role, p.district, p.school), staff],
        }
    }

    /// Every role a staff member or the operator can be granted and call with.
    fn callers() -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(|role| {
            !matches!(
                role,
                Role::HomeroomTeacher
                    | Role::Guardian
                    | Role::Service
                    | Role::Subscriber
                    | Role::Mirror
            )
        })
    }

    #[test]
    fn every_caller_role_administers_exactly_the_target_roles_it_could_grant() {
        use Role::*;
        let p = place();
        // (target role, callers in its school or district who may administer it)
        let table: [(Role, &[Role]); 10] = [
            (Operator, &[Operator]),
            (DistrictAdmin, &[Operator]),
            (DistrictViewer, &[Operator]),
            (Principal, &[Operator, DistrictAdmin, Principal]),
            (VicePrincipal, &[Operator, DistrictAdmin, Principal]),
            (ItOfficer, &[Operator, DistrictAdmin, Principal]),
            (Teacher, SCHOOL_ADMINS),
            (Staff, SCHOOL_ADMINS),
            (HomeroomTeacher, SCHOOL_ADMINS),
            (Guardian, SCHOOL_ADMINS),
        ];
        for (target, allowed) in table {
            for role in callers() {
                assert_eq!(
                    may_administer(&caller(&p, role), &holdings(&p, target), None),
                    allowed.contains(&role),
                    "{} administering a {}",
                    role.as_str(),
                    target.as_str()
                );
            }
        }
    }

    #[test]
    fn a_guardian_with_a_child_in_another_school_is_administered_by_the_district() {
        let p = place();
        let held = vec![
            guardian_of(p.district, p.school),
            guardian_of(p.district, p.other_school),
        ];
        for role in [Role::Principal, Role::VicePrincipal, Role::ItOfficer] {
            assert!(!may_administer(&caller(&p, role), &held, None));
        }
        assert!(may_administer(
            &caller(&p, Role::DistrictAdmin),
            &held,
            None
        ));
        let elsewhere = vec![
            guardian_of(p.district, p.school),
            guardian_of(p.other_district, Uuid::now_v7()),
        ];
        assert!(!may_administer(
            &caller(&p, Role::DistrictAdmin),
            &elsewhere,
            None
        ));
        assert!(may_administer(
            &caller(&p, Role::Operator),
            &elsewhere,
            None
        ));
    }

    #[test]
    fn school_roles_of_another_school_are_not_administered() {
        let p = place();
        let elsewhere = vec![school_binding(Role::Staff, p.district, p.other_school)];
        for role in [Role::Principal, Role::VicePrincipal, Role::ItOfficer] {
            assert!(!may_administer(&caller(&p, role), &elsewhere, None));
        }
        assert!(may_administer(
            &caller(&p, Role::DistrictAdmin),
            &elsewhere,
            None
        ));
    }

    #[test]
    fn an_account_holding_nothing_is_administered_by_its_district_or_the_operator() {
        let p = place();
        let home = Some(Target::district(p.district));
        assert!(may_administer(&caller(&p, Role::DistrictAdmin), &[], home));
        assert!(!may_administer(&caller(&p, Role::Principal), &[], home));
        assert!(!may_administer(&caller(&p, Role::DistrictAdmin), &[], None));
        assert!(may_administer(&caller(&p, Role::Operator), &[], None));
    }

    #[test]
    fn leaders_are_granted_by_the_district_or_the_principal_and_staff_roles_by_school_admins() {
        assert_eq!(granters(Role::ItOfficer), LEADER_GRANTERS);
        assert_eq!(granters(Role::Teacher), SCHOOL_ADMINS);
        assert_eq!(granters(Role::DistrictViewer), DISTRICT_GRANTERS);
        assert_eq!(granters(Role::Operator), PLATFORM);
        assert_eq!(administrators(Role::DistrictAdmin), PLATFORM);
    }
}
