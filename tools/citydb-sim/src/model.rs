//! The city database's records as the simulator keeps them: every record has the
//! code the city gave it and a version that grows with each change, and every
//! change is in the change feed. Fields are kept as the city holds them, typing
//! errors included (a birth date of 30 February stays one).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An administrative unit above schools: a ward or commune since July 2025, or
/// the city's Department of Education.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unit {
    pub code: String,
    pub name: String,
    #[serde(default = "one")]
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct School {
    pub code: String,
    pub name: String,
    pub unit_code: String,
    #[serde(default = "one")]
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Class {
    pub code: String,
    pub school_code: String,
    pub name: String,
    pub grade: i32,
    pub school_year: String,
    #[serde(default)]
    pub homeroom_teacher_code: String,
    #[serde(default = "one")]
    pub version: u64,
}

/// A staff member of a school, or of a unit's office when `school_code` is empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Staff {
    pub code: String,
    pub unit_code: String,
    #[serde(default)]
    pub school_code: String,
    pub full_name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub position: String,
    #[serde(default = "one")]
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Guardian {
    pub code: String,
    pub full_name: String,
    /// Empty when the school never recorded one.
    #[serde(default)]
    pub phone: String,
    #[serde(default = "one")]
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GuardianLink {
    pub guardian_code: String,
    /// `father`, `mother` or `guardian`.
    pub relation: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Student {
    pub code: String,
    pub school_code: String,
    pub full_name: String,
    /// `YYYY-MM-DD` as typed at the school.
    pub birth_date: String,
    /// `male` or `female`.
    pub gender: String,
    pub class_code: String,
    /// The date the student joined `class_code`, when after the school year began.
    #[serde(default)]
    pub class_since: String,
    /// `studying` or `left`.
    pub status: String,
    /// The first date a student who left was no longer in the class.
    #[serde(default)]
    pub left_on: String,
    #[serde(default)]
    pub guardians: Vec<GuardianLink>,
    #[serde(default = "one")]
    pub version: u64,
}

fn one() -> u64 {
    1
}

/// One change of the change feed: which record changed, in which school.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub seq: u64,
    /// `school`, `class`, `staff`, `student` or `guardian`.
    pub kind: &'static str,
    pub code: String,
    /// The school the record belongs to; empty for a unit's office staff.
    pub school_code: String,
    pub unit_code: String,
}

/// A class's month of absences, as a homeroom teacher's app sent it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MonthlyAbsences {
    pub school_code: String,
    pub class_code: String,
    /// `YYYY-MM`.
    pub month: String,
    #[serde(default)]
    pub school_days: i32,
    pub students: Vec<StudentAbsences>,
    /// Sent again after a correction: replaces the earlier totals.
    #[serde(default)]
    pub amended: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StudentAbsences {
    pub student_code: String,
    pub absent_excused: i32,
    pub absent_unexcused: i32,
    #[serde(default)]
    pub late: i32,
}

/// The whole city database.
#[derive(Debug, Clone, Default)]
pub struct City {
    pub units: Vec<Unit>,
    pub schools: Vec<School>,
    pub classes: Vec<Class>,
    pub staff: Vec<Staff>,
    /// As listed: a student may be listed twice (a fault of the source).
    pub students: Vec<Student>,
    pub guardians: BTreeMap<String, Guardian>,
    pub changes: Vec<Change>,
    /// Received month-end totals by idempotency key.
    pub monthly: BTreeMap<String, MonthlyAbsences>,
}

impl City {
    fn changed(&mut self, kind: &'static str, code: &str, school_code: &str, unit_code: &str) {
        let seq = self.changes.len() as u64 + 1;
        self.changes.push(Change {
            seq,
            kind,
            code: code.to_owned(),
            school_code: school_code.to_owned(),
            unit_code: unit_code.to_owned(),
        });
    }

    fn unit_of(&self, school_code: &str) -> String {
        self.schools
            .iter()
            .find(|s| s.code == school_code)
            .map(|s| s.unit_code.clone())
            .unwrap_or_default()
    }

    /// Changes the first student listed with `code` (a new version and an entry
    /// in the change feed); false when there is none.
    pub fn edit_student(&mut self, code: &str, edit: impl FnOnce(&mut Student)) -> bool {
        let Some(student) = self.students.iter_mut().find(|s| s.code == code) else {
            return false;
        };
        edit(student);
        student.version += 1;
        let school = student.school_code.clone();
        let unit = self.unit_of(&school);
        self.changed("student", code, &school, &unit);
        true
    }

    pub fn add_student(&mut self, student: Student) {
        let (code, school) = (student.code.clone(), student.school_code.clone());
        self.students.push(student);
        let unit = self.unit_of(&school);
        self.changed("student", &code, &school, &unit);
    }

    pub fn edit_guardian(&mut self, code: &str, edit: impl FnOnce(&mut Guardian)) -> bool {
        let Some(guardian) = self.guardians.get_mut(code) else {
            return false;
        };
        edit(guardian);
        guardian.version += 1;
        let schools: Vec<String> = self
            .students
            .iter()
            .filter(|s| s.guardians.iter().any(|g| g.guardian_code == code))
            .map(|s| s.school_code.clone())
            .collect();
        for school in schools {
            let unit = self.unit_of(&school);
            self.changed("guardian", code, &school, &unit);
        }
        true
    }

    pub fn add_guardian(&mut self, guardian: Guardian) {
        self.guardians.insert(guardian.code.clone(), guardian);
    }

    pub fn edit_staff(&mut self, code: &str, edit: impl FnOnce(&mut Staff)) -> bool {
        let Some(staff) = self.staff.iter_mut().find(|s| s.code == code) else {
            return false;
        };
        edit(staff);
        staff.version += 1;
        let (school, unit) = (staff.school_code.clone(), staff.unit_code.clone());
        self.changed("staff", code, &school, &unit);
        true
    }

    pub fn edit_class(&mut self, code: &str, edit: impl FnOnce(&mut Class)) -> bool {
        let Some(class) = self.classes.iter_mut().find(|c| c.code == code) else {
            return false;
        };
        edit(class);
        class.version += 1;
        let school = class.school_code.clone();
        let unit = self.unit_of(&school);
        self.changed("class", code, &school, &unit);
        true
    }

    pub fn add_class(&mut self, class: Class) {
        let (code, school) = (class.code.clone(), class.school_code.clone());
        self.classes.push(class);
        let unit = self.unit_of(&school);
        self.changed("class", &code, &school, &unit);
    }
}
