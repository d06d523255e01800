//! The demo's usernames for the people the mirror brought from the city database:
//! `ht.tanthong` for Tân Thông's principal, `gv.tanthong.1a1` for 1A1's homeroom
//! teacher, `vhxh.tanthonghoi` for the officer of the commune's office.

use std::collections::HashSet;

use lienlac_proto::identity::v1::Role;

/// A staff member as the demo signs them in: their username, what the accounts
/// file calls them, and the role granted on top of what the directory implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StaffAccount {
    pub(super) username: String,
    pub(super) kind: &'static str,
    pub(super) role: Option<Role>,
}

/// A school's or a unit's short name for usernames: its name folded, without the
/// kind of school or unit, the words run together ("Trường Tiểu học Tân Thông" →
/// `tanthong`, "Xã Tân Thông Hội" → `tanthonghoi`).
pub(super) fn slug(name: &str) -> String {
    const KINDS: [&str; 9] = [
        "truong tieu hoc ",
        "truong thcs ",
        "truong thpt ",
        "truong mam non ",
        "truong ",
        "xa ",
        "phuong ",
        "dac khu ",
        "huyen ",
    ];
    let folded = school::text::fold(name);
    let bare = KINDS
        .iter()
        .find_map(|kind| folded.strip_prefix(kind))
        .unwrap_or(&folded);
    bare.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// The accounts of a school's staff, in the order given: each staff member's
/// position and the class they are the homeroom teacher of. Leaders by their
/// position, homeroom teachers by their class, the other teachers numbered; a
/// second holder of a leader's position is numbered too.
pub(super) fn school_staff(slug: &str, staff: &[(&str, Option<&str>)]) -> Vec<StaffAccount> {
    let mut taken = HashSet::new();
    let mut teachers = 0;
    staff
        .iter()
        .map(|(position, homeroom_class)| {
            let (prefix, kind, role) = match (*position, homeroom_class) {
                ("Hiệu trưởng", _) => ("ht".to_owned(), "leader", Some(Role::Principal)),
                ("Phó hiệu trưởng", _) => {
                    ("pht".to_owned(), "leader", Some(Role::VicePrincipal))
                }
                ("Cán bộ công nghệ thông tin", _) => {
                    ("cntt".to_owned(), "leader", Some(Role::ItOfficer))
                }
                (_, Some(class)) => (
                    format!("gv.{slug}.{}", slug_of_class(class)),
                    "homeroom teacher",
                    None,
                ),
                _ => {
                    teachers += 1;
                    (format!("gvbm{teachers}"), "teacher", None)
                }
            };
            let username = if kind == "homeroom teacher" {
                prefix
            } else {
                format!("{prefix}.{slug}")
            };
            StaffAccount {
                username: unique(username, &mut taken),
                kind,
                role,
            }
        })
        .collect()
}

/// The accounts of a unit's office staff: each an admin of the district.
pub(super) fn office_staff(slug: &str, count: usize) -> Vec<StaffAccount> {
    let mut taken = HashSet::new();
    (0..count)
        .map(|_| StaffAccount {
            username: unique(format!("vhxh.{slug}"), &mut taken),
            kind: "district admin",
            role: Some(Role::DistrictAdmin),
        })
        .collect()
}

fn slug_of_class(class: &str) -> String {
    school::text::fold(class)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// `username`, or with 2, 3, … after its first part when taken already.
fn unique(username: String, taken: &mut HashSet<String>) -> String {
    let mut candidate = username.clone();
    let mut n = 1;
    while !taken.insert(candidate.clone()) {
        n += 1;
        candidate = match username.split_once('.') {
            Some((first, rest)) => format!("{first}{n}.{rest}"),
            None => format!("{username}{n}"),
        };
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slug_is_the_folded_name_without_its_kind() {
        for (name, slug_) in [
            ("Trường Tiểu học Tân Thông", "tanthong"),
            ("Trường Tiểu học Tân Tiến", "tantien"),
            ("Xã Tân Thông Hội", "tanthonghoi"),
            ("Phường Bến Thành", "benthanh"),
            ("Trường THCS Lê Quý Đôn", "lequydon"),
            ("Đặc khu Côn Đảo", "condao"),
            ("Trung tâm Học tập", "trungtamhoctap"),
        ] {
            assert_eq!(slug(name), slug_, "{name}");
        }
    }

    #[test]
    fn staff_are_named_by_position_or_class_and_never_twice() {
        let staff = [
            ("Hiệu trưởng", None),
            ("Phó hiệu trưởng", None),
            ("Phó hiệu trưởng", None),
            ("Cán bộ công nghệ thông tin", None),
            ("Giáo viên chủ nhiệm", Some("1A1")),
            ("Giáo viên", None),
            ("Giáo viên", None),
            ("Giáo viên chủ nhiệm", Some("5A6")),
        ];
        let accounts = school_staff("tanthong", &staff);
        let named: Vec<(&str, &str, Option<Role>)> = accounts
            .iter()
            .map(|a| (a.username.as_str(), a.kind, a.role))
            .collect();
        assert_eq!(
            named,
            [
                ("ht.tanthong", "leader", Some(Role::Principal)),
                ("pht.tanthong", "leader", Some(Role::VicePrincipal)),
                ("pht2.tanthong", "leader", Some(Role::VicePrincipal)),
                ("cntt.tanthong", "leader", Some(Role::ItOfficer)),
                ("gv.tanthong.1a1", "homeroom teacher", None),
                ("gvbm1.tanthong", "teacher", None),
                ("gvbm2.tanthong", "teacher", None),
                ("gv.tanthong.5a6", "homeroom teacher", None),
            ]
        );
    }

    #[test]
    fn a_principal_who_is_a_homeroom_teacher_too_signs_in_as_the_principal() {
        let accounts = school_staff("tantien", &[("Hiệu trưởng", Some("1A1"))]);
        assert_eq!(accounts[0].username, "ht.tantien");
        assert_eq!(accounts[0].role, Some(Role::Principal));
    }

    #[test]
    fn the_office_staff_are_district_admins_numbered_after_the_first() {
        let names: Vec<String> = office_staff("tanthonghoi", 3)
            .into_iter()
            .map(|a| a.username)
            .collect();
        assert_eq!(
            names,
            ["vhxh.tanthonghoi", "vhxh2.tanthonghoi", "vhxh3.tanthonghoi"]
        );
    }
}
