//! What must change for the directory to hold what the source holds for one
//! school: a pure comparison of the normalised source (normalise.rs) with the
//! school as identity exports it (`ExportSchool`). The source is the truth for
//! the roster: a class, person or enrolment it lacks is made, one that differs is
//! corrected, a student it no longer lists is withdrawn.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lienlac_proto::identity::v1::{Class, Person, Relation, SchoolExport};

use super::{Action, Change};
use crate::source::{Place, RowError, SourcePerson, SourceSchool, SourceStudent};

/// The changes, in the order they are applied, and the rows the plan could not
/// place (a student in a class neither the source nor the directory has). A
/// source that is not `complete` (a delta file) lists what changed only: what it
/// lacks stays as it is.
pub(crate) fn plan(
    source: &SourceSchool,
    held: &SchoolExport,
    complete: bool,
) -> (Vec<Change>, Vec<RowError>) {
    let held = Held::of(held);
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    let source_classes: BTreeSet<&str> = source.classes.iter().map(|c| c.code.as_str()).collect();

    for class in &source.classes {
        if held.class(&class.code, &class.name).is_none() {
            changes.push(Change {
                action: Action::CreateClass {
                    name: class.name.clone(),
                    grade: class.grade,
                    school_year: class.school_year.clone(),
                },
                external_ref: class.code.clone(),
                class_ref: class.code.clone(),
                version: class.version,
                detail: format!(
                    "{}, grade {}, {}",
                    class.name, class.grade, class.school_year
                ),
            });
        }
    }

    for staff in &source.staff {
        match held.staff(staff) {
            None => changes.push(Change {
                action: Action::RegisterStaff {
                    full_name: staff.full_name.clone(),
                    phone: staff.phone.clone(),
                    position: staff.position.clone(),
                },
                external_ref: staff.code.clone(),
                class_ref: String::new(),
                version: staff.version,
                detail: format!("{}, {}", staff.full_name, staff.position),
            }),
            Some(person) => changes.extend(correction(person, staff, None, "")),
        }
    }

    for class in &source.classes {
        let Some(teacher) = &class.homeroom_teacher_code else {
            continue;
        };
        let held_teacher = held
            .class(&class.code, &class.name)
            .map(|c| c.homeroom_teacher_id.as_str())
            .unwrap_or_default();
        let teacher_id = held
            .staff_by_ref
            .get(teacher.as_str())
            .map(|p| p.id.as_str());
        if teacher_id != Some(held_teacher) || held_teacher.is_empty() {
            changes.push(Change {
                action: Action::AssignHomeroomTeacher {
                    staff_code: teacher.clone(),
                },
                external_ref: class.code.clone(),
                class_ref: class.code.clone(),
                version: class.version,
                detail: format!("{teacher} for {}", class.name),
            });
        }
    }

    let mut listed: BTreeSet<&str> = BTreeSet::new();
    for student in &source.students {
        listed.insert(&student.code);
        let known_class = source_classes.contains(student.class_code.as_str())
            || (!complete
                && held
                    .classes_by_ref
                    .contains_key(student.class_code.as_str()));
        if !student.left && !known_class {
            errors.push(RowError {
                at: Place::list("citydb students"),
                column: "class_code".to_owned(),
                external_ref: student.code.clone(),
                message: format!(
                    "class {} is not among the school's classes",
                    student.class_code
                ),
            });
            continue;
        }
        changes.extend(student_changes(student, &held, &source.classes_by_code()));
        changes.extend(guardian_changes(student, source, &held));
        if complete {
            changes.extend(unlinks(student, &held));
        }
    }

    for (code, person) in held.students_by_ref.iter().filter(|_| complete) {
        if !listed.contains(code) && !person.class_id.is_empty() {
            changes.push(Change {
                action: Action::WithdrawStudent {
                    student_id: person.id.clone(),
                    effective: None,
                    reason: "Không còn trong cơ sở dữ liệu ngành".to_owned(),
                },
                external_ref: (*code).to_owned(),
                class_ref: held.class_ref_of(&person.class_id),
                version: 0,
                detail: "no longer in the city database".to_owned(),
            });
        }
    }
    (changes, errors)
}

impl SourceSchool {
    fn classes_by_code(&self) -> HashMap<&str, &str> {
        self.classes
            .iter()
            .map(|c| (c.code.as_str(), c.name.as_str()))
            .collect()
    }
}

/// The directory's school, indexed by what the source names things by.
struct Held<'a> {
    classes_by_ref: HashMap<&'a str, &'a Class>,
    classes_by_name: HashMap<&'a str, &'a Class>,
    classes_by_id: HashMap<&'a str, &'a Class>,
    staff_by_ref: HashMap<&'a str, &'a Person>,
    staff_by_phone: HashMap<&'a str, &'a Person>,
    students_by_ref: BTreeMap<&'a str, &'a Person>,
    guardians_by_ref: HashMap<&'a str, &'a Person>,
    guardians_by_phone: HashMap<&'a str, &'a Person>,
    guardians_by_id: HashMap<&'a str, &'a Person>,
}

impl<'a> Held<'a> {
    fn of(export: &'a SchoolExport) -> Self {
        let refs = |people: &'a [Person]| -> HashMap<&'a str, &'a Person> {
            people
                .iter()
                .filter(|p| !p.external_ref.is_empty())
                .map(|p| (p.external_ref.as_str(), p))
                .collect()
        };
        let phones = |people: &'a [Person]| -> HashMap<&'a str, &'a Person> {
            people
                .iter()
                .filter(|p| !p.phone.is_empty())
                .map(|p| (p.phone.as_str(), p))
                .collect()
        };
        Self {
            classes_by_ref: export
                .classes
                .iter()
                .filter(|c| !c.external_ref.is_empty())
                .map(|c| (c.external_ref.as_str(), c))
                .collect(),
            classes_by_name: export
                .classes
                .iter()
                .filter(|c| c.external_ref.is_empty())
                .map(|c| (c.name.as_str(), c))
                .collect(),
            classes_by_id: export.classes.iter().map(|c| (c.id.as_str(), c)).collect(),
            staff_by_ref: refs(&export.staff),
            staff_by_phone: phones(&export.staff),
            students_by_ref: export
                .students
                .iter()
                .filter(|p| !p.external_ref.is_empty())
                .map(|p| (p.external_ref.as_str(), p))
                .collect(),
            guardians_by_ref: refs(&export.guardians),
            guardians_by_phone: phones(&export.guardians),
            guardians_by_id: export
                .guardians
                .iter()
                .map(|p| (p.id.as_str(), p))
                .collect(),
        }
    }

    /// A class by the source's code, or one made in lienlac under the same name.
    fn class(&self, code: &str, name: &str) -> Option<&'a Class> {
        self.classes_by_ref
            .get(code)
            .or_else(|| self.classes_by_name.get(name))
            .copied()
    }

    fn staff(&self, staff: &SourcePerson) -> Option<&'a Person> {
        self.staff_by_ref
            .get(staff.code.as_str())
            .or_else(|| self.staff_by_phone.get(staff.phone.as_str()))
            .copied()
    }

    fn guardian(&self, guardian: &SourcePerson) -> Option<&'a Person> {
        self.guardians_by_ref
            .get(guardian.code.as_str())
            .or_else(|| self.guardians_by_phone.get(guardian.phone.as_str()))
            .copied()
    }

    fn class_ref_of(&self, class_id: &str) -> String {
        self.classes_by_id
            .get(class_id)
            .map(|c| {
                if c.external_ref.is_empty() {
                    c.name.clone()
                } else {
                    c.external_ref.clone()
                }
            })
            .unwrap_or_default()
    }
}

/// The fields of `held` that differ from the source's, as one correction.
pub(crate) fn correction(
    held: &Person,
    source: &SourcePerson,
    birth_date: Option<time::Date>,
    class_ref: &str,
) -> Option<Change> {
    let mut detail = Vec::new();
    let mut differs = |field: &str, held: &str, source: &str| -> Option<String> {
        (held != source).then(|| {
            detail.push(format!("{field}: {held} → {source}"));
            source.to_owned()
        })
    };
    let full_name = differs("full_name", &held.full_name, &source.full_name);
    let phone = if source.phone.is_empty() {
        None
    } else {
        differs("phone", &held.phone, &source.phone)
    };
    let position = if source.position.is_empty() {
        None
    } else {
        differs("position", &held.position, &source.position)
    };
    let birth_date = birth_date
        .and_then(|date| differs("birth_date", &held.birth_date, &date.to_string()))
        .and_then(|text| kernel::dates::parse(&text));
    if detail.is_empty() {
        return None;
    }
    Some(Change {
        action: Action::UpdatePerson {
            person_id: held.id.clone(),
            full_name,
            phone,
            birth_date,
            position,
        },
        external_ref: source.code.clone(),
        class_ref: class_ref.to_owned(),
        version: source.version,
        detail: detail.join("; "),
    })
}

fn student_changes(
    student: &SourceStudent,
    held: &Held<'_>,
    class_names: &HashMap<&str, &str>,
) -> Vec<Change> {
    let class_name = |code: &str| class_names.get(code).copied().unwrap_or(code).to_owned();
    let change = |action: Action, detail: String| Change {
        action,
        external_ref: student.code.clone(),
        class_ref: student.class_code.clone(),
        version: student.version,
        detail,
    };
    let Some(person) = held.students_by_ref.get(student.code.as_str()) else {
        let Some((birth_date, gender)) = student.details else {
            // Left before lienlac knew them.
            return Vec::new();
        };
        return vec![change(
            Action::RegisterStudent {
                full_name: student.full_name.clone(),
                birth_date,
                gender,
            },
            format!(
                "{}, born {birth_date}, in {}",
                student.full_name,
                class_name(&student.class_code)
            ),
        )];
    };
    let as_person = SourcePerson {
        code: student.code.clone(),
        full_name: student.full_name.clone(),
        phone: String::new(),
        position: String::new(),
        version: student.version,
    };
    let mut changes: Vec<Change> = match student.details {
        Some((birth_date, _)) => {
            correction(person, &as_person, Some(birth_date), &student.class_code)
                .into_iter()
                .collect()
        }
        None => Vec::new(),
    };
    let held_class = held.classes_by_id.get(person.class_id.as_str()).copied();
    let target = held
        .classes_by_ref
        .get(student.class_code.as_str())
        .copied()
        .or_else(|| {
            held.classes_by_name
                .get(class_name(&student.class_code).as_str())
                .copied()
        });
    let same_class = matches!((held_class, target), (Some(h), Some(t)) if h.id == t.id);
    if student.left {
        if let Some(class) = held_class {
            changes.push(change(
                Action::WithdrawStudent {
                    student_id: person.id.clone(),
                    effective: student.left_on,
                    reason: "Đã nghỉ học theo cơ sở dữ liệu ngành".to_owned(),
                },
                match student.left_on {
                    Some(on) => format!("left {} on {on}", class.name),
                    None => format!("left {}", class.name),
                },
            ));
        }
    } else if held_class.is_none() {
        changes.push(change(
            Action::EnrolStudent {
                student_id: person.id.clone(),
            },
            format!("in {}", class_name(&student.class_code)),
        ));
    } else if !same_class {
        let from = held_class.map(|c| c.name.clone()).unwrap_or_default();
        changes.push(change(
            Action::TransferStudent {
                student_id: person.id.clone(),
                effective: student.class_since,
            },
            match student.class_since {
                Some(on) => format!("{from} → {} from {on}", class_name(&student.class_code)),
                None => format!("{from} → {}", class_name(&student.class_code)),
            },
        ));
    }
    changes
}

/// The student's guardians the source no longer names: of those lienlac has from
/// the source (a guardian made in lienlac is the school's to keep).
fn unlinks(student: &SourceStudent, held: &Held<'_>) -> Vec<Change> {
    let Some(person) = held.students_by_ref.get(student.code.as_str()) else {
        return Vec::new();
    };
    if student.left {
        return Vec::new();
    }
    let named: BTreeSet<&str> = student
        .guardians
        .iter()
        .map(|(code, _)| code.as_str())
        .collect();
    person
        .guardianships
        .iter()
        .filter_map(|link| held.guardians_by_id.get(link.guardian_id.as_str()))
        .filter(|guardian| {
            !guardian.external_ref.is_empty() && !named.contains(guardian.external_ref.as_str())
        })
        .map(|guardian| Change {
            action: Action::UnlinkGuardian {
                guardian_id: guardian.id.clone(),
                student_id: person.id.clone(),
            },
            external_ref: guardian.external_ref.clone(),
            class_ref: student.class_code.clone(),
            version: student.version,
            detail: format!("no longer a guardian of {}", student.code),
        })
        .collect()
}

/// The student's guardians: registered, corrected and linked as the source has them.
fn guardian_changes(
    student: &SourceStudent,
    source: &SourceSchool,
    held: &Held<'_>,
) -> Vec<Change> {
    if student.left {
        return Vec::new();
    }
    let held_student = held.students_by_ref.get(student.code.as_str());
    let mut changes = Vec::new();
    for (code, relation) in &student.guardians {
        // A guardian the source could not give (no phone number) is a row error
        // already; the student is mirrored without them.
        let Some(guardian) = source.guardians.get(code) else {
            continue;
        };
        let held_guardian = held.guardian(guardian);
        match held_guardian {
            None => changes.push(Change {
                action: Action::RegisterGuardian {
                    full_name: guardian.full_name.clone(),
                    phone: guardian.phone.clone(),
                },
                external_ref: code.clone(),
                class_ref: student.class_code.clone(),
                version: guardian.version,
                detail: guardian.full_name.clone(),
            }),
            Some(person) => changes.extend(correction(person, guardian, None, &student.class_code)),
        }
        let linked = match (held_student, held_guardian) {
            (Some(s), Some(g)) => s.guardianships.iter().any(|link| link.guardian_id == g.id),
            _ => false,
        };
        if !linked {
            let relation_word = match relation {
                Relation::Father => "father",
                Relation::Mother => "mother",
                _ => "guardian",
            };
            changes.push(Change {
                action: Action::LinkGuardian {
                    student_code: student.code.clone(),
                    relation: *relation,
                },
                external_ref: code.clone(),
                class_ref: student.class_code.clone(),
                version: student.version,
                detail: format!("{relation_word} of {}", student.code),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use lienlac_proto::identity::v1::{Gender, Guardianship, Relation};
    use time::macros::date;

    use super::*;
    use crate::source::{SourceClass, SourceStudent};

    fn class(id: &str, code: &str, name: &str, teacher: &str) -> Class {
        Class {
            id: id.to_owned(),
            name: name.to_owned(),
            external_ref: code.to_owned(),
            homeroom_teacher_id: teacher.to_owned(),
            ..Class::default()
        }
    }

    fn person(id: &str, code: &str, name: &str, class_id: &str) -> Person {
        Person {
            id: id.to_owned(),
            external_ref: code.to_owned(),
            full_name: name.to_owned(),
            class_id: class_id.to_owned(),
            birth_date: "2019-01-01".to_owned(),
            phone: if code.starts_with("PH") || code.starts_with("GV") {
                format!("+8490000{}", &id[1..])
            } else {
                String::new()
            },
            ..Person::default()
        }
    }

    fn source_class(code: &str, name: &str, teacher: &str) -> SourceClass {
        SourceClass {
            code: code.to_owned(),
            name: name.to_owned(),
            grade: 1,
            school_year: "2026-2027".to_owned(),
            homeroom_teacher_code: Some(teacher.to_owned()),
            version: 1,
        }
    }

    fn source_student(code: &str, name: &str, class: &str, guardians: &[&str]) -> SourceStudent {
        SourceStudent {
            code: code.to_owned(),
            full_name: name.to_owned(),
            details: Some((date!(2019 - 01 - 01), Gender::Female)),
            class_code: class.to_owned(),
            class_since: None,
            left_on: None,
            left: false,
            guardians: guardians
                .iter()
                .map(|g| ((*g).to_owned(), Relation::Mother))
                .collect(),
            version: 2,
        }
    }

    fn source_person(code: &str, name: &str, id: &str) -> SourcePerson {
        SourcePerson {
            code: code.to_owned(),
            full_name: name.to_owned(),
            phone: format!("+8490000{id}"),
            position: String::new(),
            version: 1,
        }
    }

    /// The directory's school: 1A1 (teacher t1) and 1A2 (teacher t2); students a
    /// (1A1, mother g1), b (1A1), c (1A2), d (1A2, not in the source).
    fn held() -> SchoolExport {
        let mut a = person("sa", "HSA", "Lê An", "c1");
        a.guardianships = vec![Guardianship {
            guardian_id: "sg1".to_owned(),
            student_id: "sa".to_owned(),
            relation: Relation::Mother as i32,
        }];
        SchoolExport {
            classes: vec![
                class("c1", "L1A1", "1A1", "st1"),
                class("c2", "L1A2", "1A2", "st2"),
            ],
            staff: vec![
                person("st1", "GV1", "Cô Một", ""),
                person("st2", "GV2", "Cô Hai", ""),
            ],
            students: vec![
                a,
                person("sb", "HSB", "Lê Bình", "c1"),
                person("sc", "HSC", "Lê Chi", "c2"),
                person("sd", "HSD", "Lê Dung", "c2"),
            ],
            guardians: vec![person("sg1", "PH1", "Trần Mai", "")],
            ..SchoolExport::default()
        }
    }

    fn source() -> SourceSchool {
        SourceSchool {
            code: "S".to_owned(),
            name: "Trường".to_owned(),
            classes: vec![
                source_class("L1A1", "1A1", "GV1"),
                source_class("L1A2", "1A2", "GV2"),
            ],
            staff: vec![
                source_person("GV1", "Cô Một", "t1"),
                source_person("GV2", "Cô Hai", "t2"),
            ],
            students: vec![
                source_student("HSA", "Lê An", "L1A1", &["PH1"]),
                source_student("HSB", "Lê Bình", "L1A1", &[]),
                source_student("HSC", "Lê Chi", "L1A2", &[]),
            ],
            guardians: [("PH1".to_owned(), source_person("PH1", "Trần Mai", "g1"))].into(),
        }
    }

    #[test]
    fn given_a_change_of_the_source_then_the_plan_holds_exactly_the_change_that_mirrors_it() {
        type Edit = fn(&mut SourceSchool);
        // (what the source changed, the changes planned as (kind, code))
        type Row = (&'static str, Edit, &'static [(&'static str, &'static str)]);
        let table: [Row; 9] = [
            ("nothing but d's leaving", |_| {}, &[]),
            (
                "a new class",
                |s| s.classes.push(source_class("L2A1", "2A1", "GV1")),
                &[
                    ("create_class", "L2A1"),
                    ("assign_homeroom_teacher", "L2A1"),
                ],
            ),
            (
                "a name corrected",
                |s| s.students[1].full_name = "Lê Bình An".to_owned(),
                &[("update_person", "HSB")],
            ),
            (
                "a move to 1A2",
                |s| {
                    s.students[1].class_code = "L1A2".to_owned();
                    s.students[1].class_since = Some(date!(2026 - 11 - 02));
                },
                &[("transfer_student", "HSB")],
            ),
            (
                "a student left",
                |s| {
                    s.students[2].left = true;
                    s.students[2].left_on = Some(date!(2026 - 11 - 20));
                },
                &[("withdraw_student", "HSC")],
            ),
            (
                "a new student with a new guardian",
                |s| {
                    s.students
                        .push(source_student("HSE", "Lê Em", "L1A2", &["PH2"]));
                    s.guardians
                        .insert("PH2".to_owned(), source_person("PH2", "Võ Hà", "g2"));
                },
                &[
                    ("register_student", "HSE"),
                    ("register_guardian", "PH2"),
                    ("link_guardian", "PH2"),
                ],
            ),
            (
                "a guardian's new phone",
                |s| {
                    s.guardians.get_mut("PH1").expect("PH1").phone = "+84399888777".to_owned();
                },
                &[("update_person", "PH1")],
            ),
            (
                "a guardian no longer named",
                |s| s.students[0].guardians.clear(),
                &[("unlink_guardian", "PH1")],
            ),
            (
                "another homeroom teacher",
                |s| s.classes[0].homeroom_teacher_code = Some("GV2".to_owned()),
                &[("assign_homeroom_teacher", "L1A1")],
            ),
        ];
        for (what, edit, expected) in table {
            let mut changed = source();
            edit(&mut changed);
            let (changes, errors) = plan(&changed, &held(), true);
            assert!(errors.is_empty(), "{what}: {errors:?}");
            let got: Vec<(&str, &str)> = changes
                .iter()
                .map(|c| (c.kind(), c.external_ref.as_str()))
                .filter(|(_, code)| *code != "HSD")
                .collect();
            assert_eq!(got, expected, "{what}");
            assert!(
                changes
                    .iter()
                    .any(|c| c.kind() == "withdraw_student" && c.external_ref == "HSD"),
                "{what}: d, no longer in the source, is withdrawn"
            );
        }
    }

    #[test]
    fn a_move_and_a_leaving_take_effect_on_the_sources_dates_and_a_student_in_an_unknown_class_is_a_row_error()
     {
        let mut changed = source();
        changed.students[1].class_code = "L1A2".to_owned();
        changed.students[1].class_since = Some(date!(2026 - 11 - 02));
        changed
            .students
            .push(source_student("HSF", "Lê Phúc", "L9A9", &[]));
        let (changes, errors) = plan(&changed, &held(), true);
        let transfer = changes
            .iter()
            .find(|c| c.kind() == "transfer_student")
            .expect("a transfer");
        assert_eq!(
            transfer.action,
            Action::TransferStudent {
                student_id: "sb".to_owned(),
                effective: Some(date!(2026 - 11 - 02)),
            }
        );
        assert_eq!(transfer.detail, "1A1 → 1A2 from 2026-11-02");
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].column.as_str(), errors[0].external_ref.as_str()),
            ("class_code", "HSF")
        );
    }

    #[test]
    fn the_same_change_of_the_same_version_has_the_same_request_id_and_another_version_another() {
        let (first, _) = plan(&source(), &SchoolExport::default(), true);
        let (again, _) = plan(&source(), &SchoolExport::default(), true);
        let ids = |changes: &[Change]| -> Vec<uuid::Uuid> {
            changes.iter().map(|c| c.request_id("S")).collect()
        };
        assert_eq!(ids(&first), ids(&again));
        let mut newer = source();
        newer.students[0].version = 3;
        let (later, _) = plan(&newer, &SchoolExport::default(), true);
        let student = |changes: &[Change]| {
            changes
                .iter()
                .find(|c| c.kind() == "register_student" && c.external_ref == "HSA")
                .map(|c| c.request_id("S"))
        };
        assert_ne!(student(&first), student(&later));
        let unique: std::collections::BTreeSet<_> = ids(&first).into_iter().collect();
        assert_eq!(unique.len(), first.len(), "one id per change");
    }
}
