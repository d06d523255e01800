//! An `ImportClassRosterRequest` checked: its students, its guardians, and links
//! that name students and guardians of the roster by their codes.

use std::collections::{HashMap, HashSet};

use kernel::grpc::{Check, Violation};
use lienlac_proto::identity::v1 as pb;
use uuid::Uuid;

use super::fields::{known, new_student};
use crate::directory::people::NewGuardian;
use crate::directory::roster::{
    LinkedGuardian, MAX_ROSTER, MAX_ROSTER_GUARDIANS, Roster, RosterLink,
};
use crate::text;

/// The roster of `r`; every fault is added to `check`. The students and
/// guardians carry no school yet: they join the class's.
pub(super) fn roster(check: &mut Check, r: &pb::ImportClassRosterRequest) -> Roster {
    if r.students.is_empty() || r.students.len() > MAX_ROSTER {
        check.add(Violation::new(
            "students",
            format!("must list 1 to {MAX_ROSTER} students"),
            format!("phải có từ 1 đến {MAX_ROSTER} học sinh"),
        ));
        return Roster {
            students: Vec::new(),
            guardians: Vec::new(),
            links: Vec::new(),
        };
    }
    if r.guardians.len() > MAX_ROSTER_GUARDIANS {
        check.add(Violation::new(
            "guardians",
            format!("must list at most {MAX_ROSTER_GUARDIANS} guardians"),
            format!("chỉ được tối đa {MAX_ROSTER_GUARDIANS} phụ huynh"),
        ));
    }
    let students: Vec<_> = r
        .students
        .iter()
        .enumerate()
        .map(|(n, student)| new_student(check, &format!("students[{n}]."), Uuid::nil(), student))
        .collect();
    let guardians: Vec<NewGuardian> = r
        .guardians
        .iter()
        .take(MAX_ROSTER_GUARDIANS)
        .enumerate()
        .map(|(n, guardian)| NewGuardian {
            school_id: Uuid::nil(),
            full_name: check.take(text::name(
                &format!("guardians[{n}].full_name"),
                &guardian.full_name,
                100,
            )),
            phone: check.take(text::phone(
                &format!("guardians[{n}].phone"),
                &guardian.phone,
            )),
            external_ref: Some(check.take(text::external_ref(
                &format!("guardians[{n}].external_ref"),
                &guardian.external_ref,
            ))),
        })
        .collect();
    let student_at = places(
        check,
        "students",
        "external_ref",
        students.iter().map(|s| s.external_ref.as_str()),
    );
    let guardian_at = places(
        check,
        "guardians",
        "external_ref",
        guardians
            .iter()
            .map(|g| g.external_ref.as_deref().unwrap_or_default()),
    );
    places(
        check,
        "guardians",
        "phone",
        guardians.iter().map(|g| g.phone.as_str()),
    );
    let mut linked = HashSet::new();
    let mut links = Vec::with_capacity(r.links.len());
    for (n, link) in r.links.iter().enumerate() {
        let field = |name: &str| format!("links[{n}].{name}");
        let student = student_at.get(link.student_ref.as_str()).copied();
        if student.is_none() {
            check.add(Violation::new(
                &field("student_ref"),
                "must be the external_ref of a student of the roster",
                "phải là mã của một học sinh trong danh sách",
            ));
        }
        let guardian = match (link.guardian_ref.is_empty(), link.guardian_id.is_empty()) {
            (false, true) => match guardian_at.get(link.guardian_ref.as_str()) {
                Some(&at) => Some(LinkedGuardian::New(at)),
                None => {
                    check.add(Violation::new(
                        &field("guardian_ref"),
                        "must be the external_ref of a guardian of the roster",
                        "phải là mã của một phụ huynh trong danh sách",
                    ));
                    None
                }
            },
            (true, false) => Some(LinkedGuardian::Registered(
                check.uuid(&field("guardian_id"), &link.guardian_id),
            )),
            _ => {
                check.add(Violation::new(
                    &field("guardian_ref"),
                    "give exactly one of guardian_ref and guardian_id",
                    "cần đúng một trong guardian_ref và guardian_id",
                ));
                None
            }
        };
        let relation = known::<pb::Relation>(
            check,
            &field("relation"),
            link.relation,
            pb::Relation::Unspecified as i32,
        );
        if let (Some(student), Some(guardian)) = (student, guardian) {
            if !linked.insert((student, guardian.clone())) {
                check.add(Violation::new(
                    &field("student_ref"),
                    "links this guardian to this student a second time",
                    "liên kết phụ huynh này với học sinh này lần thứ hai",
                ));
            }
            links.push(RosterLink {
                student,
                guardian,
                relation,
            });
        }
    }
    Roster {
        students,
        guardians,
        links,
    }
}

/// Each value's place in its list; a value listed twice is a violation.
fn places<'a>(
    check: &mut Check,
    list: &str,
    field: &str,
    values: impl Iterator<Item = &'a str>,
) -> HashMap<&'a str, usize> {
    let mut at = HashMap::new();
    for (n, value) in values.enumerate() {
        if value.is_empty() {
            continue;
        }
        if at.insert(value, n).is_some() {
            check.add(Violation::new(
                &format!("{list}[{n}].{field}"),
                format!("{value} is listed twice"),
                format!("{value} có hai lần trong danh sách"),
            ));
        }
    }
    at
}
