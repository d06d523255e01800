//! Request fields the directory's RPCs share, checked: a grade, an enum value, a
//! new student, a list of ids.

use kernel::grpc::{Check, Violation};
use lienlac_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::directory::people;
use crate::text;

pub(super) fn grade(check: &mut Check, grade: i32) -> i32 {
    if !(1..=12).contains(&grade) {
        check.add(Violation::new(
            "grade",
            "must be from 1 to 12",
            "phải từ 1 đến 12",
        ));
    }
    grade
}

pub(super) fn known<E: TryFrom<i32> + Default>(
    check: &mut Check,
    field: &str,
    value: i32,
    unspecified: i32,
) -> E {
    match E::try_from(value) {
        Ok(known) if value != unspecified => known,
        _ => {
            check.add(Violation::new(
                field,
                "must be one of the listed values",
                "phải là một trong các giá trị cho phép",
            ));
            E::default()
        }
    }
}

/// A name-like field a request may leave empty (a position): empty then.
pub(super) fn optional_name(check: &mut Check, field: &str, raw: &str) -> String {
    if raw.trim().is_empty() {
        String::new()
    } else {
        check.take(text::name(field, raw, 100))
    }
}

/// A transfer's or withdrawal's effective date: `None` (today) when empty. Whether
/// it falls in the enrolment is the command's to decide.
pub(super) fn effective_date(check: &mut Check, raw: &str) -> Option<time::Date> {
    if raw.trim().is_empty() {
        None
    } else {
        check.take(text::date("effective_date", raw).map(Some))
    }
}

/// A student's fields checked, each named `{prefix}full_name` and so on.
pub(super) fn new_student(
    check: &mut Check,
    prefix: &str,
    school_id: Uuid,
    student: &pb::NewStudent,
) -> people::NewStudent {
    let field = |name: &str| format!("{prefix}{name}");
    let full_name = check.take(text::name(&field("full_name"), &student.full_name, 100));
    let birth_date = check
        .take(text::date(&field("birth_date"), &student.birth_date).map(Some))
        .unwrap_or(time::Date::MIN);
    let gender = known::<pb::Gender>(
        check,
        &field("gender"),
        student.gender,
        pb::Gender::Unspecified as i32,
    );
    let external_ref = check.take(text::external_ref(
        &field("external_ref"),
        &student.external_ref,
    ));
    people::NewStudent {
        school_id,
        full_name,
        birth_date,
        gender,
        external_ref,
    }
}

/// The ids of the list `field`, at most `max` of them, each checked; none when
/// the list is over its cap (refused unread).
pub(super) fn listed_ids(check: &mut Check, field: &str, ids: &[String], max: usize) -> Vec<Uuid> {
    if !check.at_most(field, ids.len(), max) {
        return Vec::new();
    }
    ids.iter()
        .enumerate()
        .map(|(i, id)| check.uuid(&format!("{field}[{i}]"), id))
        .collect()
}
