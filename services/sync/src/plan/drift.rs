//! Drift: where lienlac and the source disagree, as a school's IT officer reads
//! it. Some of it a run mends (a name corrected in lienlac, a student the source
//! no longer lists); some it leaves alone because the source is silent on it (a
//! class or a staff member lienlac has and the source lacks, a record made in
//! lienlac with no code of the source). A pure comparison, as the plan's.

use std::collections::BTreeSet;

use lienlac_proto::identity::v1::SchoolExport;

use super::Change;
use crate::source::SourceSchool;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Drift {
    /// "differs", "not_in_source", "not_in_lienlac", "made_in_lienlac".
    pub kind: &'static str,
    /// "class", "staff", "student", "guardian".
    pub entity: &'static str,
    /// The source's code; for a record made in lienlac, its name.
    pub external_ref: String,
    pub detail: String,
}

/// The drift of one school, from its source, the directory's export and the
/// plan made of them (which says what differs).
pub(crate) fn drift(source: &SourceSchool, held: &SchoolExport, plan: &[Change]) -> Vec<Drift> {
    let mut found = Vec::new();
    let source_classes: BTreeSet<&str> = source.classes.iter().map(|c| c.code.as_str()).collect();
    let source_names: BTreeSet<&str> = source.classes.iter().map(|c| c.name.as_str()).collect();
    for class in &held.classes {
        if class.external_ref.is_empty() {
            if !source_names.contains(class.name.as_str()) {
                found.push(Drift {
                    kind: "made_in_lienlac",
                    entity: "class",
                    external_ref: class.name.clone(),
                    detail: format!("class {} has no code of the source", class.name),
                });
            }
        } else if !source_classes.contains(class.external_ref.as_str()) {
            found.push(Drift {
                kind: "not_in_source",
                entity: "class",
                external_ref: class.external_ref.clone(),
                detail: format!("class {} is missing upstream", class.name),
            });
        }
    }
    let source_staff: BTreeSet<&str> = source.staff.iter().map(|s| s.code.as_str()).collect();
    for staff in &held.staff {
        if staff.external_ref.is_empty() {
            found.push(Drift {
                kind: "made_in_lienlac",
                entity: "staff",
                external_ref: staff.full_name.clone(),
                detail: "a staff member with no code of the source".to_owned(),
            });
        } else if !source_staff.contains(staff.external_ref.as_str()) {
            found.push(Drift {
                kind: "not_in_source",
                entity: "staff",
                external_ref: staff.external_ref.clone(),
                detail: format!("{} is missing upstream", staff.full_name),
            });
        }
    }
    for change in plan {
        let entity = match change.kind() {
            "update_person" if source.guardians.contains_key(&change.external_ref) => "guardian",
            "update_person" if source_staff.contains(change.external_ref.as_str()) => "staff",
            "update_person" => "student",
            "unlink_guardian" => {
                found.push(Drift {
                    kind: "not_in_source",
                    entity: "guardian",
                    external_ref: change.external_ref.clone(),
                    detail: change.detail.clone(),
                });
                continue;
            }
            "withdraw_student" if change.version == 0 => {
                found.push(Drift {
                    kind: "not_in_source",
                    entity: "student",
                    external_ref: change.external_ref.clone(),
                    detail: "studying in lienlac, not listed upstream".to_owned(),
                });
                continue;
            }
            "register_student" | "register_staff" | "register_guardian" | "create_class" => {
                found.push(Drift {
                    kind: "not_in_lienlac",
                    entity: match change.kind() {
                        "register_student" => "student",
                        "register_staff" => "staff",
                        "register_guardian" => "guardian",
                        _ => "class",
                    },
                    external_ref: change.external_ref.clone(),
                    detail: change.detail.clone(),
                });
                continue;
            }
            _ => continue,
        };
        found.push(Drift {
            kind: "differs",
            entity,
            external_ref: change.external_ref.clone(),
            detail: change.detail.clone(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use lienlac_proto::identity::v1::{Class, Person};

    use super::*;
    use crate::plan::Action;
    use crate::source::{SourceClass, SourcePerson};

    #[test]
    fn given_what_each_side_holds_then_the_drift_names_each_difference_once() {
        let source = SourceSchool {
            classes: vec![SourceClass {
                code: "L1A1".to_owned(),
                name: "1A1".to_owned(),
                grade: 1,
                school_year: "2026-2027".to_owned(),
                homeroom_teacher_code: None,
                version: 1,
            }],
            staff: vec![SourcePerson {
                code: "GV1".to_owned(),
                full_name: "Cô Một".to_owned(),
                phone: "+84900000001".to_owned(),
                position: String::new(),
                version: 1,
            }],
            ..SourceSchool::default()
        };
        let class = |code: &str, name: &str| Class {
            external_ref: code.to_owned(),
            name: name.to_owned(),
            ..Class::default()
        };
        let staff = |code: &str, name: &str| Person {
            external_ref: code.to_owned(),
            full_name: name.to_owned(),
            ..Person::default()
        };
        let held = SchoolExport {
            classes: vec![
                class("L1A1", "1A1"),
                class("L1A9", "1A9"),
                class("", "CLB Cờ vua"),
            ],
            staff: vec![
                staff("GV1", "Cô Một"),
                staff("GV9", "Thầy Chín"),
                staff("", "Bảo vệ Tư"),
            ],
            ..SchoolExport::default()
        };
        let plan = [
            Change {
                action: Action::UpdatePerson {
                    person_id: "p".to_owned(),
                    full_name: Some("Lê Văn Ân".to_owned()),
                    phone: None,
                    birth_date: None,
                    position: None,
                },
                external_ref: "HS1".to_owned(),
                class_ref: "L1A1".to_owned(),
                version: 2,
                detail: "full_name: Lê Văn An → Lê Văn Ân".to_owned(),
            },
            Change {
                action: Action::WithdrawStudent {
                    student_id: "q".to_owned(),
                    effective: None,
                    reason: String::new(),
                },
                external_ref: "HS2".to_owned(),
                class_ref: "L1A1".to_owned(),
                version: 0,
                detail: String::new(),
            },
        ];
        let drifts = drift(&source, &held, &plan);
        let found: Vec<(&str, &str, &str)> = drifts
            .iter()
            .map(|d| (d.kind, d.entity, d.external_ref.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("not_in_source", "class", "L1A9"),
                ("made_in_lienlac", "class", "CLB Cờ vua"),
                ("not_in_source", "staff", "GV9"),
                ("made_in_lienlac", "staff", "Bảo vệ Tư"),
                ("differs", "student", "HS1"),
                ("not_in_source", "student", "HS2"),
            ]
        );
    }
}
