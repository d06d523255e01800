//! A city made up deterministically: the same spec makes the same schools,
//! classes, staff, students and guardians, with Vietnamese names, mobile numbers
//! and the city's codes. The demo district's files (`data/demo/`) were written
//! from [`demo`]; the city-scale benchmark serves [`city`] from memory.

use crate::model::{City, Class, Guardian, GuardianLink, School, Staff, Student, Unit};

const FAMILY: [&str; 14] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô",
];
const MIDDLE_GIRL: [&str; 5] = ["Thị", "Ngọc", "Thanh", "Bảo", "Minh"];
const MIDDLE_BOY: [&str; 5] = ["Văn", "Minh", "Gia", "Đức", "Quốc"];
const GIVEN_GIRL: [&str; 16] = [
    "Anh", "Châu", "Giang", "Hà", "Hạnh", "Lan", "Linh", "Mai", "My", "Ngân", "Nhi", "Phương",
    "Quỳnh", "Thảo", "Trang", "Vy",
];
const GIVEN_BOY: [&str; 16] = [
    "An", "Bình", "Dũng", "Hải", "Hiếu", "Hòa", "Hùng", "Khang", "Khánh", "Khoa", "Long", "Nam",
    "Phúc", "Quân", "Trí", "Tuấn",
];

/// A school to make: its classes per grade 1 to 5 and its staff in all (the
/// leaders and a homeroom teacher per class among them).
#[derive(Debug, Clone)]
pub struct SchoolSpec {
    pub code: String,
    pub name: String,
    pub unit_code: String,
    pub classes: [usize; 5],
    pub staff: usize,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub units: Vec<Unit>,
    pub schools: Vec<SchoolSpec>,
    /// Staff of each unit's office.
    pub office_staff: usize,
    pub school_year: String,
    /// The faults a real source has: a student listed twice, a guardian without a
    /// phone number, a birth date that is no date.
    pub dirty: bool,
}

/// The demo district: a commune with two primary schools.
pub fn demo(school_year: &str) -> Spec {
    let unit = "79-XTTH";
    Spec {
        units: vec![Unit {
            code: unit.to_owned(),
            name: "Xã Tân Thông Hội".to_owned(),
            version: 1,
        }],
        schools: vec![
            SchoolSpec {
                code: "79000701".to_owned(),
                name: "Trường Tiểu học Tân Thông".to_owned(),
                unit_code: unit.to_owned(),
                classes: [7, 7, 7, 6, 6],
                staff: 57,
            },
            SchoolSpec {
                code: "79000702".to_owned(),
                name: "Trường Tiểu học Tân Tiến".to_owned(),
                unit_code: unit.to_owned(),
                classes: [4, 4, 4, 4, 4],
                staff: 26,
            },
        ],
        office_staff: 1,
        school_year: school_year.to_owned(),
        dirty: true,
    }
}

/// The city after July 2025: `schools` primary schools in 168 wards and communes,
/// 33 classes and 45 staff a school.
pub fn city(schools: usize, school_year: &str) -> Spec {
    let units: Vec<Unit> = (0..168)
        .map(|n| Unit {
            code: format!("79-U{n:03}"),
            name: format!("Phường {}", n + 1),
            version: 1,
        })
        .collect();
    let schools = (0..schools)
        .map(|n| SchoolSpec {
            code: format!("79{:06}", 1000 + n),
            name: format!("Trường Tiểu học số {}", n + 1),
            unit_code: units[n % units.len()].code.clone(),
            classes: [7, 7, 7, 6, 6],
            staff: 45,
        })
        .collect();
    Spec {
        units,
        schools,
        office_staff: 3,
        school_year: school_year.to_owned(),
        dirty: false,
    }
}

/// A deterministic, well-mixed number below `modulo` from a key.
pub fn pick(key: &str, modulo: usize) -> usize {
    let mut x = key.bytes().fold(0x9E37_79B9_7F4A_7C15_u64, |x, b| {
        (x ^ u64::from(b)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
    });
    x ^= x >> 31;
    (x % modulo as u64) as usize
}

fn name(key: &str, girl: bool) -> String {
    let (middle, given): (&[&str], &[&str]) = if girl {
        (&MIDDLE_GIRL, &GIVEN_GIRL)
    } else {
        (&MIDDLE_BOY, &GIVEN_BOY)
    };
    format!(
        "{} {} {}",
        FAMILY[pick(&format!("{key}:family"), FAMILY.len())],
        middle[pick(&format!("{key}:middle"), middle.len())],
        given[pick(&format!("{key}:given"), given.len())]
    )
}

/// A parent's name: a father carries the child's family name, a mother her own;
/// neither has the child's given name.
pub fn parent_name(key: &str, father: bool, child: &str) -> String {
    let family = child.split(' ').next().unwrap_or("Nguyễn");
    let child_given = child.rsplit(' ').next().unwrap_or_default();
    let (middle, given): (&[&str], &[&str]) = if father {
        (&MIDDLE_BOY, &GIVEN_BOY)
    } else {
        (&MIDDLE_GIRL, &GIVEN_GIRL)
    };
    let mut chosen = pick(&format!("{key}:given"), given.len());
    if given[chosen] == child_given {
        chosen = (chosen + 1) % given.len();
    }
    let family = if father {
        family
    } else {
        FAMILY[pick(&format!("{key}:family"), FAMILY.len())]
    };
    format!(
        "{family} {} {}",
        middle[pick(&format!("{key}:middle"), middle.len())],
        given[chosen]
    )
}

/// The city of `spec`.
pub fn generate(spec: &Spec) -> City {
    let mut city = City {
        units: spec.units.clone(),
        ..City::default()
    };
    let first_year: i32 = spec.school_year[..4].parse().unwrap_or(2025);
    let (mut staff_n, mut student_n, mut guardian_n) = (0usize, 0usize, 0usize);
    for unit in &spec.units {
        for n in 0..spec.office_staff {
            staff_n += 1;
            city.staff.push(Staff {
                code: format!("CB{staff_n:07}"),
                unit_code: unit.code.clone(),
                school_code: String::new(),
                full_name: name(&format!("office:{}:{n}", unit.code), n % 2 == 0),
                phone: format!("08{staff_n:08}"),
                position: "Chuyên viên".to_owned(),
                version: 1,
            });
        }
    }
    for school in &spec.schools {
        city.schools.push(School {
            code: school.code.clone(),
            name: school.name.clone(),
            unit_code: school.unit_code.clone(),
            version: 1,
        });
        let class_names: Vec<(i32, String)> = school
            .classes
            .iter()
            .enumerate()
            .flat_map(|(grade, count)| {
                (1..=*count).map(move |n| (grade as i32 + 1, format!("{}A{n}", grade + 1)))
            })
            .collect();
        let positions = [
            "Hiệu trưởng",
            "Phó hiệu trưởng",
            "Cán bộ công nghệ thông tin",
        ];
        let mut teachers = Vec::new();
        for n in 0..school.staff.max(positions.len() + class_names.len()) {
            staff_n += 1;
            let position = match positions.get(n) {
                Some(leader) => *leader,
                None if n < positions.len() + class_names.len() => "Giáo viên chủ nhiệm",
                None => "Giáo viên",
            };
            let code = format!("GV{staff_n:07}");
            if position == "Giáo viên chủ nhiệm" {
                teachers.push(code.clone());
            }
            city.staff.push(Staff {
                code,
                unit_code: school.unit_code.clone(),
                school_code: school.code.clone(),
                full_name: name(&format!("staff:{}:{n}", school.code), n % 3 != 0),
                phone: format!("08{staff_n:08}"),
                position: position.to_owned(),
                version: 1,
            });
        }
        for ((grade, class_name), teacher) in class_names.iter().zip(&teachers) {
            let class_code = format!("{}-{class_name}", school.code);
            city.classes.push(Class {
                code: class_code.clone(),
                school_code: school.code.clone(),
                name: class_name.clone(),
                grade: *grade,
                school_year: spec.school_year.clone(),
                homeroom_teacher_code: teacher.clone(),
                version: 1,
            });
            let size = 30 + pick(&class_code, 11);
            for n in 0..size {
                student_n += 1;
                let key = format!("{class_code}:{n}");
                let girl = pick(&key, 2) == 0;
                let full_name = name(&key, girl);
                let parents = 1 + pick(&format!("{key}:guardians"), 2);
                let mut guardians = Vec::new();
                for p in 0..parents {
                    guardian_n += 1;
                    let code = format!("PH{guardian_n:08}");
                    let father = p == 0;
                    city.guardians.insert(
                        code.clone(),
                        Guardian {
                            code: code.clone(),
                            full_name: parent_name(&code, father, &full_name),
                            phone: format!("09{guardian_n:08}"),
                            version: 1,
                        },
                    );
                    guardians.push(GuardianLink {
                        guardian_code: code,
                        relation: if father { "father" } else { "mother" }.to_owned(),
                    });
                }
                city.students.push(Student {
                    code: format!("79{student_n:08}"),
                    school_code: school.code.clone(),
                    full_name,
                    birth_date: format!(
                        "{}-{:02}-{:02}",
                        first_year - 5 - grade,
                        1 + pick(&format!("{key}:month"), 12),
                        1 + pick(&format!("{key}:day"), 28)
                    ),
                    gender: if girl { "female" } else { "male" }.to_owned(),
                    class_code: class_code.clone(),
                    class_since: String::new(),
                    status: "studying".to_owned(),
                    left_on: String::new(),
                    guardians,
                    version: 1,
                });
            }
        }
    }
    if spec.dirty {
        make_dirty(&mut city);
    }
    city
}

/// What a real source holds beside the clean rows: the fifth student listed
/// twice, the tenth's first guardian without a phone number, the fifteenth born
/// on 30 February.
fn make_dirty(city: &mut City) {
    if city.students.len() < 15 {
        return;
    }
    let twice = city.students[4].clone();
    city.students.insert(5, twice);
    if let Some(link) = city.students[10].guardians.first()
        && let Some(guardian) = city.guardians.get_mut(&link.guardian_code)
    {
        guardian.phone.clear();
    }
    let year = &city.students[15].birth_date[..4];
    city.students[15].birth_date = format!("{year}-02-30");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_has_its_schools_classes_and_staff_and_the_faults_of_a_real_source() {
        let city = generate(&demo("2026-2027"));
        assert_eq!(city.schools.len(), 2);
        assert_eq!(city.classes.len(), 53);
        let staff_of = |school: &str| {
            city.staff
                .iter()
                .filter(|s| s.school_code == school)
                .count()
        };
        assert_eq!((staff_of("79000701"), staff_of("79000702")), (57, 26));
        assert_eq!(staff_of(""), 1, "the commune's office");
        let codes: std::collections::HashSet<&str> =
            city.students.iter().map(|s| s.code.as_str()).collect();
        assert_eq!(
            codes.len(),
            city.students.len() - 1,
            "one student listed twice"
        );
        assert_eq!(
            city.guardians
                .values()
                .filter(|g| g.phone.is_empty())
                .count(),
            1
        );
        assert_eq!(
            city.students
                .iter()
                .filter(|s| s.birth_date.ends_with("-02-30"))
                .count(),
            1
        );
        assert_eq!(
            generate(&demo("2026-2027")).students,
            city.students,
            "the same every time"
        );
    }

    #[test]
    fn a_parent_never_has_the_childs_given_name_and_a_father_carries_the_family_name() {
        let city = generate(&demo("2026-2027"));
        for student in &city.students {
            let given = student.full_name.rsplit(' ').next().unwrap_or_default();
            for link in &student.guardians {
                let parent = &city.guardians[&link.guardian_code].full_name;
                assert_ne!(
                    parent.rsplit(' ').next().unwrap_or_default(),
                    given,
                    "{parent}"
                );
                if link.relation == "father" {
                    assert_eq!(
                        parent.split(' ').next(),
                        student.full_name.split(' ').next()
                    );
                }
            }
        }
    }
}
