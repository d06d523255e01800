//! What the demo is made of: its schools, Vietnamese names, phone numbers and
//! student codes, all derived from stable keys so every run makes the same ones.

use lienlac_proto::identity::v1 as id;

pub(super) const FAMILY: [&str; 14] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô",
];
pub(super) const MIDDLE_GIRL: [&str; 5] = ["Thị", "Ngọc", "Thanh", "Bảo", "Minh"];
pub(super) const MIDDLE_BOY: [&str; 5] = ["Văn", "Minh", "Gia", "Đức", "Quốc"];
pub(super) const GIVEN_GIRL: [&str; 16] = [
    "Anh", "Châu", "Giang", "Hà", "Hạnh", "Lan", "Linh", "Mai", "My", "Ngân", "Nhi", "Phương",
    "Quỳnh", "Thảo", "Trang", "Vy",
];
pub(super) const GIVEN_BOY: [&str; 16] = [
    "An", "Bình", "Dũng", "Hải", "Hiếu", "Hòa", "Hùng", "Khang", "Khánh", "Khoa", "Long", "Nam",
    "Phúc", "Quân", "Trí", "Tuấn",
];

pub(super) struct SchoolPlan {
    pub(super) name: &'static str,
    pub(super) reference: &'static str,
    pub(super) slug: &'static str,
    /// Classes per grade 1 to 5.
    pub(super) classes: [usize; 5],
    /// Staff in all, with the leaders and homeroom teachers among them.
    pub(super) staff: usize,
    pub(super) leaders: &'static [(&'static str, id::Role)],
}

pub(super) const SCHOOLS: [SchoolPlan; 2] = [
    SchoolPlan {
        name: "Trường Tiểu học Tân Thông",
        reference: "TANTHONG",
        slug: "tanthong",
        classes: [7, 7, 7, 6, 6],
        staff: 57,
        leaders: &[
            ("ht", id::Role::Principal),
            ("pht", id::Role::VicePrincipal),
            ("cntt", id::Role::ItOfficer),
        ],
    },
    SchoolPlan {
        name: "Trường Tiểu học Tân Tiến",
        reference: "TANTIEN",
        slug: "tantien",
        classes: [4, 4, 4, 4, 4],
        staff: 26,
        leaders: &[("ht", id::Role::Principal)],
    },
];

/// A deterministic request id for what a request creates.
pub(crate) fn rid(key: &str) -> String {
    let hash = |seed: u64| {
        key.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let high = hash(0xcbf2_9ce4_8422_2325);
    let low = hash(0x84222325_cbf29ce4);
    uuid::Uuid::from_u64_pair(high, low).to_string()
}

/// A roll call's exceptions, the same for the same `key`: each student absent
/// with leave, absent without, or late, each about once in `one_in` roll calls;
/// the others present.
pub(crate) fn exceptions(
    students: &[String],
    key: &str,
    one_in: usize,
) -> Vec<lienlac_proto::attendance::v1::Mark> {
    use lienlac_proto::attendance::v1::{AttendanceStatus, Mark};
    students
        .iter()
        .filter_map(|student| {
            let status = match pick(&format!("{key}:{student}"), one_in) {
                0 => AttendanceStatus::AbsentExcused,
                1 => AttendanceStatus::AbsentUnexcused,
                2 => AttendanceStatus::Late,
                _ => return None,
            };
            Some(Mark {
                student_id: student.clone(),
                status: status as i32,
                ..Default::default()
            })
        })
        .collect()
}

/// A deterministic, well-mixed number from a key.
pub(crate) fn pick(key: &str, modulo: usize) -> usize {
    let mut x = key.bytes().fold(0x9E37_79B9_7F4A_7C15_u64, |x, b| {
        (x ^ u64::from(b)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
    });
    x ^= x >> 31;
    (x % modulo as u64) as usize
}

pub(super) fn name(key: &str, girl: bool) -> String {
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

/// A parent's name, picked by their phone number: a father carries the child's
/// family name, a mother her own; neither has the child's given name.
pub(super) fn parent_name(phone: &str, father: bool, child: &str) -> String {
    let mut words = child.split(' ');
    let family = words.next().unwrap_or("Nguyễn");
    let child_given = child.rsplit(' ').next().unwrap_or_default();
    let (middle, given): (&[&str], &[&str]) = if father {
        (&MIDDLE_BOY, &GIVEN_BOY)
    } else {
        (&MIDDLE_GIRL, &GIVEN_GIRL)
    };
    let mut chosen = pick(&format!("{phone}:given"), given.len());
    if given[chosen] == child_given {
        chosen = (chosen + 1) % given.len();
    }
    let family = if father {
        family
    } else {
        FAMILY[pick(&format!("{phone}:family"), FAMILY.len())]
    };
    format!(
        "{family} {} {}",
        middle[pick(&format!("{phone}:middle"), middle.len())],
        given[chosen]
    )
}

/// The last `count` weekdays before `today`, oldest first.
pub(crate) fn school_days(today: time::Date, count: usize) -> Vec<time::Date> {
    let mut days = Vec::new();
    let mut day = today;
    while days.len() < count {
        day = day.previous_day().unwrap_or(day);
        if !matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        ) {
            days.push(day);
        }
    }
    days.reverse();
    days
}

pub(super) fn student_key(plan: &SchoolPlan, class_name: &str, n: usize) -> String {
    format!("{}:{class_name}:{n}", plan.reference)
}

/// A student's code in the city database's style: school, then seven digits.
pub(super) fn student_code(plan: &SchoolPlan, class_name: &str, n: usize) -> String {
    let key = student_key(plan, class_name, n);
    format!("{}{:07}", plan.slug.to_uppercase(), pick(&key, 10_000_000))
}

/// The phone numbers of a student's guardians: the very first guardian of the
/// demo is 0900000001, the others follow from the school, class and student.
pub(super) fn phones_for(school: usize, class_name: &str, n: usize) -> [String; 2] {
    let grade = class_name[..1].parse::<usize>().unwrap_or(1);
    let section = class_name[2..].parse::<usize>().unwrap_or(1);
    let base = 1 + ((school * 5 + grade - 1) * 10 + section - 1) * 100 + n * 2;
    [format!("09{base:08}"), format!("09{:08}", base + 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_never_has_the_childs_given_name_and_a_father_carries_the_family_name() {
        for n in 0..500 {
            let phone = format!("09{n:08}");
            for girl in [false, true] {
                let child = name(&format!("child:{n}"), girl);
                let given = child.rsplit(' ').next().unwrap();
                for father in [true, false] {
                    let parent = parent_name(&phone, father, &child);
                    assert_ne!(
                        parent.rsplit(' ').next().unwrap(),
                        given,
                        "{parent} / {child}"
                    );
                    if father {
                        assert_eq!(parent.split(' ').next(), child.split(' ').next());
                    }
                }
            }
        }
    }
}
