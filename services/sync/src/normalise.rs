//! From rows as a source wrote them to the school lienlac mirrors: names in NFC,
//! mobile numbers in E.164, dates that are dates. Each record is kept once (a
//! page served twice, a student listed twice); a row that cannot be mirrored is
//! a row error saying where and why, and the rest of the school goes on.

use std::collections::BTreeMap;

use lienlac_proto::identity::v1::{Gender, Relation};
use time::Date;

use crate::source::{
    Place, RawClass, RawPerson, RawSchoolData, RawStudent, RowError, SourceClass, SourcePerson,
    SourceSchool, SourceStudent,
};

/// The longest name identity keeps.
const MAX_NAME: usize = 100;

/// The school of `raw`, and the rows that could not be mirrored. `today` bounds
/// birth dates.
pub(crate) fn school(raw: RawSchoolData, today: Date) -> (SourceSchool, Vec<RowError>) {
    let mut errors = Vec::new();
    let classes = once_each(
        raw.classes,
        |c| (&c.code, c.version),
        |c| &c.at,
        &mut errors,
    )
    .into_iter()
    .filter_map(|row| keep(class(&row), &mut errors))
    .collect();
    let staff = once_each(raw.staff, |p| (&p.code, p.version), |p| &p.at, &mut errors)
        .into_iter()
        .filter_map(|row| keep(person(&row, "staff member"), &mut errors))
        .collect();
    let guardians: BTreeMap<String, SourcePerson> = once_each(
        raw.guardians,
        |p| (&p.code, p.version),
        |p| &p.at,
        &mut errors,
    )
    .into_iter()
    .filter_map(|row| keep(person(&row, "guardian"), &mut errors))
    .map(|guardian| (guardian.code.clone(), guardian))
    .collect();
    let students = once_each(
        raw.students,
        |s| (&s.code, s.version),
        |s| &s.at,
        &mut errors,
    )
    .into_iter()
    .filter_map(|row| keep(student(&row, today), &mut errors))
    .collect();
    let school = SourceSchool {
        code: raw.school.code,
        name: school::text::tidy_name(&raw.school.name),
        classes,
        staff,
        students,
        guardians,
    };
    (school, errors)
}

/// A staff member of a unit's office.
pub(crate) fn office_person(raw: RawPerson) -> Result<SourcePerson, RowError> {
    person(&raw, "staff member")
}

fn keep<T>(result: Result<T, RowError>, errors: &mut Vec<RowError>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

/// Each code once: its latest version; copies of one version are one record,
/// but two different records under one code and version are neither.
fn once_each<T: Clone + PartialEq>(
    rows: Vec<T>,
    key: impl Fn(&T) -> (&String, u64),
    at: impl Fn(&T) -> &Place,
    errors: &mut Vec<RowError>,
) -> Vec<T> {
    let mut latest: BTreeMap<String, (T, bool)> = BTreeMap::new();
    let mut order = Vec::new();
    for row in rows {
        let (code, version) = key(&row);
        let code = code.clone();
        match latest.get_mut(&code) {
            None => {
                order.push(code.clone());
                latest.insert(code, (row, true));
            }
            Some((held, consistent)) => {
                let held_version = key(held).1;
                if version > held_version {
                    *held = row;
                    *consistent = true;
                } else if version == held_version && *held != row {
                    *consistent = false;
                }
            }
        }
    }
    order
        .into_iter()
        .filter_map(|code| {
            let (row, consistent) = latest.remove(&code)?;
            if consistent {
                Some(row)
            } else {
                errors.push(RowError {
                    at: at(&row).clone(),
                    column: "code".to_owned(),
                    external_ref: code.clone(),
                    message: format!(
                        "{code} is listed twice with different data; neither copy is mirrored"
                    ),
                });
                None
            }
        })
        .collect()
}

fn row_error(at: &Place, column: &str, code: &str, message: String) -> RowError {
    RowError {
        at: at.clone(),
        column: column.to_owned(),
        external_ref: code.to_owned(),
        message,
    }
}

fn name(at: &Place, code: &str, raw: &str) -> Result<String, RowError> {
    let name = school::text::tidy_name(raw);
    if name.is_empty() {
        return Err(row_error(
            at,
            "full_name",
            code,
            "the name is empty".to_owned(),
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(row_error(
            at,
            "full_name",
            code,
            format!("the name is longer than {MAX_NAME} characters"),
        ));
    }
    Ok(name)
}

fn date(at: &Place, column: &str, code: &str, raw: &str) -> Result<Date, RowError> {
    kernel::dates::parse(raw.trim()).ok_or_else(|| {
        row_error(
            at,
            column,
            code,
            format!("{raw:?} is not a date (YYYY-MM-DD)"),
        )
    })
}

fn optional_date(
    at: &Place,
    column: &str,
    code: &str,
    raw: &str,
) -> Result<Option<Date>, RowError> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        date(at, column, code, raw).map(Some)
    }
}

fn class(row: &RawClass) -> Result<SourceClass, RowError> {
    let grade: i32 = row
        .grade
        .trim()
        .parse()
        .ok()
        .filter(|g| (1..=12).contains(g))
        .ok_or_else(|| {
            row_error(
                &row.at,
                "grade",
                &row.code,
                format!("{:?} is not a grade from 1 to 12", row.grade),
            )
        })?;
    let class_name = school::text::tidy_name(&row.name);
    if class_name.is_empty() || class_name.chars().count() > 20 {
        return Err(row_error(
            &row.at,
            "name",
            &row.code,
            "a class's name is 1 to 20 characters".to_owned(),
        ));
    }
    Ok(SourceClass {
        code: row.code.clone(),
        name: class_name,
        grade,
        school_year: row.school_year.trim().to_owned(),
        homeroom_teacher_code: Some(row.homeroom_teacher_code.trim().to_owned())
            .filter(|c| !c.is_empty()),
        version: row.version,
    })
}

fn person(row: &RawPerson, whom: &str) -> Result<SourcePerson, RowError> {
    let full_name = name(&row.at, &row.code, &row.full_name)?;
    if row.phone.trim().is_empty() {
        return Err(row_error(
            &row.at,
            "phone",
            &row.code,
            format!(
                "a {whom} without a phone number cannot be reached in lienlac; add one in the city database"
            ),
        ));
    }
    let phone = school::text::e164(&row.phone).ok_or_else(|| {
        row_error(
            &row.at,
            "phone",
            &row.code,
            format!("{:?} is not a Vietnamese mobile number", row.phone),
        )
    })?;
    Ok(SourcePerson {
        code: row.code.clone(),
        full_name,
        phone,
        position: school::text::tidy_name(&row.position),
        version: row.version,
    })
}

fn student(row: &RawStudent, today: Date) -> Result<SourceStudent, RowError> {
    let full_name = name(&row.at, &row.code, &row.full_name)?;
    let left = match school::text::fold(&row.status).as_str() {
        "studying" | "" => false,
        "left" => true,
        _ => {
            return Err(row_error(
                &row.at,
                "status",
                &row.code,
                format!("{:?} is neither studying nor left", row.status),
            ));
        }
    };
    // A student who left is only withdrawn: what the source still says of them
    // (a delta file often says nothing) is not checked.
    let details = if left {
        None
    } else {
        Some(details(row, today)?)
    };
    let mut guardians = Vec::new();
    for (code, relation) in &row.guardians {
        let relation = match school::text::fold(relation).as_str() {
            "father" | "cha" | "bo" => Relation::Father,
            "mother" | "me" => Relation::Mother,
            _ => Relation::Guardian,
        };
        guardians.push((code.clone(), relation));
    }
    Ok(SourceStudent {
        code: row.code.clone(),
        full_name,
        details,
        class_code: row.class_code.trim().to_owned(),
        class_since: optional_date(&row.at, "class_since", &row.code, &row.class_since)?,
        left_on: optional_date(&row.at, "left_on", &row.code, &row.left_on)?,
        left,
        guardians,
        version: row.version,
    })
}

/// A studying student's birth date and sex.
fn details(row: &RawStudent, today: Date) -> Result<(Date, Gender), RowError> {
    let birth_date = date(&row.at, "birth_date", &row.code, &row.birth_date)?;
    if birth_date > today || birth_date.year() < 1990 {
        return Err(row_error(
            &row.at,
            "birth_date",
            &row.code,
            format!("{birth_date} is no student's birth date"),
        ));
    }
    let gender = match school::text::fold(&row.gender).as_str() {
        "male" | "m" | "nam" => Gender::Male,
        "female" | "f" | "nu" => Gender::Female,
        _ => {
            return Err(row_error(
                &row.at,
                "gender",
                &row.code,
                format!("{:?} is neither male nor female", row.gender),
            ));
        }
    };
    Ok((birth_date, gender))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::source::RawSchool;

    fn raw_student(code: &str, edit: impl FnOnce(&mut RawStudent)) -> RawStudent {
        let mut student = RawStudent {
            at: Place::list("citydb students"),
            code: code.to_owned(),
            full_name: "Nguyễn  Văn   An".to_owned(),
            birth_date: "2019-03-02".to_owned(),
            gender: "male".to_owned(),
            class_code: "S1-1A1".to_owned(),
            class_since: String::new(),
            status: "studying".to_owned(),
            left_on: String::new(),
            guardians: vec![("PH1".to_owned(), "mother".to_owned())],
            version: 1,
        };
        edit(&mut student);
        student
    }

    fn raw_guardian(code: &str, phone: &str) -> RawPerson {
        RawPerson {
            at: Place::list("citydb students"),
            code: code.to_owned(),
            full_name: "Trần Thị Mai".to_owned(),
            phone: phone.to_owned(),
            position: String::new(),
            version: 1,
        }
    }

    fn normalised(
        students: Vec<RawStudent>,
        guardians: Vec<RawPerson>,
    ) -> (SourceSchool, Vec<RowError>) {
        school(
            RawSchoolData {
                school: RawSchool {
                    code: "S1".to_owned(),
                    name: "Trường A".to_owned(),
                    unit_code: "U1".to_owned(),
                },
                classes: Vec::new(),
                staff: Vec::new(),
                students,
                guardians,
            },
            date!(2026 - 11 - 30),
        )
    }

    #[test]
    fn given_a_students_row_then_it_is_mirrored_tidied_or_refused_saying_which_column() {
        // (the row's change, the column refused; None when mirrored)
        type Edit = fn(&mut RawStudent);
        let table: [(Edit, Option<&str>); 9] = [
            (|_| {}, None),
            (
                |s| s.birth_date = "2019-02-30".to_owned(),
                Some("birth_date"),
            ),
            (
                |s| s.birth_date = "2030-01-01".to_owned(),
                Some("birth_date"),
            ),
            (|s| s.gender = "Nữ".to_owned(), None),
            (|s| s.gender = "x".to_owned(), Some("gender")),
            (|s| s.full_name = "   ".to_owned(), Some("full_name")),
            (|s| s.status = "expelled".to_owned(), Some("status")),
            (
                |s| s.class_since = "03/11/2025".to_owned(),
                Some("class_since"),
            ),
            (|s| s.status = "left".to_owned(), None),
        ];
        for (n, (edit, refused)) in table.into_iter().enumerate() {
            let (school, errors) = normalised(vec![raw_student("HS1", edit)], Vec::new());
            match refused {
                None => {
                    assert!(errors.is_empty(), "row {n}: {errors:?}");
                    assert_eq!(school.students[0].full_name, "Nguyễn Văn An");
                }
                Some(column) => {
                    assert!(school.students.is_empty(), "row {n}");
                    assert_eq!(errors[0].column, column, "row {n}: {errors:?}");
                    assert_eq!(errors[0].external_ref, "HS1");
                }
            }
        }
    }

    #[test]
    fn a_record_listed_twice_is_one_and_two_different_ones_under_a_code_are_none() {
        let same = raw_student("HS1", |_| {});
        let newer = raw_student("HS2", |s| s.version = 2);
        let older = raw_student("HS2", |s| s.full_name = "Lê Văn Cũ".to_owned());
        let clash = raw_student("HS3", |s| s.full_name = "Lê Văn Một".to_owned());
        let other = raw_student("HS3", |s| s.full_name = "Lê Văn Hai".to_owned());
        let (school, errors) = normalised(
            vec![same.clone(), older, same, newer, clash, other],
            Vec::new(),
        );
        let codes: Vec<(&str, u64)> = school
            .students
            .iter()
            .map(|s| (s.code.as_str(), s.version))
            .collect();
        assert_eq!(codes, [("HS1", 1), ("HS2", 2)]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .message
                .contains("listed twice with different data"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_guardian_without_a_mobile_number_is_a_row_error_and_others_are_in_e164() {
        let (school, errors) = normalised(
            Vec::new(),
            vec![
                raw_guardian("PH1", "0912 345 678"),
                raw_guardian("PH2", ""),
                raw_guardian("PH3", "028 3829 1234"),
            ],
        );
        assert_eq!(school.guardians["PH1"].phone, "+84912345678");
        let refused: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.external_ref.as_str(), e.column.as_str()))
            .collect();
        assert_eq!(refused, [("PH2", "phone"), ("PH3", "phone")]);
        assert!(errors[0].message.contains("without a phone number"));
    }
}
