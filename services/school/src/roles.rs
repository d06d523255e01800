//! Who is who in a school: the groups of roles the services' access rules are
//! written from, in this one table. A role counts only within the scope it is
//! bound to (a district, a school, a class, a guardian's own children).

use kernel::auth::Role;

/// The district office: its administrators and viewers.
pub const DISTRICT_OFFICE: &[Role] = &[Role::DistrictAdmin, Role::DistrictViewer];

/// The school's leaders: the principal, the vice principals and the IT officer.
pub const SCHOOL_LEADERS: &[Role] = &[Role::Principal, Role::VicePrincipal, Role::ItOfficer];

/// Who reads students' birth dates and people's phone numbers across a school: the
/// district's administrators and the school's leaders. (Identity adds the person, a
/// student's homeroom teacher and guardians: identity/src/personal_details.rs.)
pub const DETAIL_READERS: &[Role] = &[
    Role::DistrictAdmin,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
];

/// Who oversees a school: the district office and the school's leaders.
pub const SCHOOL_OVERSEERS: &[Role] = &[
    Role::DistrictAdmin,
    Role::DistrictViewer,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
];

/// Who oversees a class: its homeroom teacher and the school's overseers.
pub const CLASS_OVERSEERS: &[Role] = &[
    Role::HomeroomTeacher,
    Role::DistrictAdmin,
    Role::DistrictViewer,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
];

/// Who follows a student: the guardians and the class's overseers.
pub const STUDENT_OVERSEERS: &[Role] = &[
    Role::Guardian,
    Role::HomeroomTeacher,
    Role::DistrictAdmin,
    Role::DistrictViewer,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
];

/// Everyone who works with a school's records: its overseers and all its teachers
/// and staff.
pub const SCHOOL_COLLEAGUES: &[Role] = &[
    Role::DistrictAdmin,
    Role::DistrictViewer,
    Role::Principal,
    Role::VicePrincipal,
    Role::ItOfficer,
    Role::Teacher,
    Role::Staff,
    Role::HomeroomTeacher,
];

/// Whether `group` holds exactly the roles of `parts`, each once: how a group
/// written out in full is checked against the groups it is made of.
pub fn is_union_of(group: &[Role], parts: &[&[Role]]) -> bool {
    let listed: std::collections::HashSet<Role> = group.iter().copied().collect();
    let union: std::collections::HashSet<Role> =
        parts.iter().flat_map(|part| part.iter().copied()).collect();
    listed.len() == group.len() && listed == union
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_with_a_role_missing_extra_or_twice_is_no_union() {
        let leaders = SCHOOL_LEADERS;
        assert!(is_union_of(
            leaders,
            &[&[Role::Principal], &[Role::VicePrincipal, Role::ItOfficer]]
        ));
        assert!(!is_union_of(
            leaders,
            &[&[Role::Principal, Role::VicePrincipal]]
        ));
        assert!(!is_union_of(leaders, &[leaders, &[Role::Teacher]]));
        assert!(!is_union_of(
            &[Role::Principal, Role::Principal],
            &[&[Role::Principal]]
        ));
    }

    #[test]
    fn each_group_is_the_union_of_the_groups_it_names() {
        for (name, group, parts) in [
            (
                "school overseers",
                SCHOOL_OVERSEERS,
                vec![DISTRICT_OFFICE, SCHOOL_LEADERS],
            ),
            (
                "class overseers",
                CLASS_OVERSEERS,
                vec![SCHOOL_OVERSEERS, &[Role::HomeroomTeacher]],
            ),
            (
                "student overseers",
                STUDENT_OVERSEERS,
                vec![CLASS_OVERSEERS, &[Role::Guardian]],
            ),
            (
                "school colleagues",
                SCHOOL_COLLEAGUES,
                vec![
                    SCHOOL_OVERSEERS,
                    &[Role::Teacher, Role::Staff, Role::HomeroomTeacher],
                ],
            ),
        ] {
            assert!(is_union_of(group, &parts), "{name}");
        }
    }
}
