//! The city as CSV files in a directory (`data/demo/`): what the demo district is
//! made of, editable by hand. Classes take the school year the simulator serves.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::model::{City, Class, Guardian, GuardianLink, School, Staff, Student, Unit};

#[derive(Serialize, Deserialize)]
struct ClassRow {
    code: String,
    school_code: String,
    name: String,
    grade: i32,
    homeroom_teacher_code: String,
}

#[derive(Serialize, Deserialize)]
struct StudentRow {
    code: String,
    school_code: String,
    full_name: String,
    birth_date: String,
    gender: String,
    class_code: String,
    class_since: String,
    status: String,
    left_on: String,
}

#[derive(Serialize, Deserialize)]
struct GuardianshipRow {
    student_code: String,
    guardian_code: String,
    relation: String,
}

fn read<T: for<'de> Deserialize<'de>>(dir: &Path, file: &str) -> anyhow::Result<Vec<T>> {
    let path = dir.join(file);
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("{}", path.display()))?;
    reader
        .deserialize()
        .enumerate()
        .map(|(n, row)| row.with_context(|| format!("{} line {}", path.display(), n + 2)))
        .collect()
}

fn write<T: Serialize>(
    dir: &Path,
    file: &str,
    rows: impl IntoIterator<Item = T>,
) -> anyhow::Result<()> {
    let path = dir.join(file);
    let mut writer =
        csv::Writer::from_path(&path).with_context(|| format!("{}", path.display()))?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}

/// The city in `dir`, its classes in `school_year`.
pub fn load(dir: &Path, school_year: &str) -> anyhow::Result<City> {
    let units: Vec<Unit> = read(dir, "units.csv")?;
    let schools: Vec<School> = read(dir, "schools.csv")?;
    let classes: Vec<ClassRow> = read(dir, "classes.csv")?;
    let staff: Vec<Staff> = read(dir, "staff.csv")?;
    let students: Vec<StudentRow> = read(dir, "students.csv")?;
    let guardians: Vec<Guardian> = read(dir, "guardians.csv")?;
    let links: Vec<GuardianshipRow> = read(dir, "guardianships.csv")?;
    let mut city = City {
        units,
        schools,
        staff,
        ..City::default()
    };
    city.classes = classes
        .into_iter()
        .map(|row| Class {
            code: row.code,
            school_code: row.school_code,
            name: row.name,
            grade: row.grade,
            school_year: school_year.to_owned(),
            homeroom_teacher_code: row.homeroom_teacher_code,
            version: 1,
        })
        .collect();
    let mut links_of: std::collections::HashMap<String, Vec<GuardianLink>> =
        std::collections::HashMap::new();
    for link in links {
        links_of
            .entry(link.student_code)
            .or_default()
            .push(GuardianLink {
                guardian_code: link.guardian_code,
                relation: link.relation,
            });
    }
    city.students = students
        .into_iter()
        .map(|row| Student {
            guardians: links_of.get(&row.code).cloned().unwrap_or_default(),
            code: row.code,
            school_code: row.school_code,
            full_name: row.full_name,
            birth_date: row.birth_date,
            gender: row.gender,
            class_code: row.class_code,
            class_since: row.class_since,
            status: row.status,
            left_on: row.left_on,
            version: 1,
        })
        .collect();
    city.guardians = guardians.into_iter().map(|g| (g.code.clone(), g)).collect();
    Ok(city)
}

/// Writes `city` as the files [`load`] reads.
pub fn save(city: &City, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    write(dir, "units.csv", &city.units)?;
    write(dir, "schools.csv", &city.schools)?;
    write(
        dir,
        "classes.csv",
        city.classes.iter().map(|c| ClassRow {
            code: c.code.clone(),
            school_code: c.school_code.clone(),
            name: c.name.clone(),
            grade: c.grade,
            homeroom_teacher_code: c.homeroom_teacher_code.clone(),
        }),
    )?;
    write(dir, "staff.csv", &city.staff)?;
    write(
        dir,
        "students.csv",
        city.students.iter().map(|s| StudentRow {
            code: s.code.clone(),
            school_code: s.school_code.clone(),
            full_name: s.full_name.clone(),
            birth_date: s.birth_date.clone(),
            gender: s.gender.clone(),
            class_code: s.class_code.clone(),
            class_since: s.class_since.clone(),
            status: s.status.clone(),
            left_on: s.left_on.clone(),
        }),
    )?;
    write(dir, "guardians.csv", city.guardians.values())?;
    // A student listed twice has its guardians once.
    let mut seen = std::collections::HashSet::new();
    write(
        dir,
        "guardianships.csv",
        city.students
            .iter()
            .filter(|s| seen.insert(s.code.clone()))
            .flat_map(|s| {
                s.guardians.iter().map(|g| GuardianshipRow {
                    student_code: s.code.clone(),
                    guardian_code: g.guardian_code.clone(),
                    relation: g.relation.clone(),
                })
            }),
    )?;
    Ok(())
}
