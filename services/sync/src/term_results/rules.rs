//! Circular 27/2020's assessment of a primary student at a term's end, checked:
//! each subject of the grade with its level (Hoàn thành tốt, Hoàn thành, Chưa hoàn
//! thành) and, for the subjects with a periodic test, its score from 1 to 10; the
//! five qualities and the three general competencies, with the specific ones the
//! source gives, each Tốt, Đạt or Cần cố gắng.

use lienlac_proto::sync::v1::{RatedResult, Rating, SubjectLevel, SubjectResult};

/// A grade's subjects, and whether a periodic test scores them.
pub(crate) fn subjects(grade: i32) -> Vec<(&'static str, bool)> {
    let mut subjects = vec![("Tiếng Việt", true), ("Toán", true), ("Đạo đức", false)];
    if grade <= 3 {
        subjects.push(("Tự nhiên và Xã hội", false));
    } else {
        subjects.extend([("Khoa học", true), ("Lịch sử và Địa lí", true)]);
    }
    if grade >= 3 {
        subjects.extend([("Tin học và Công nghệ", true), ("Ngoại ngữ 1", true)]);
    }
    subjects.extend([
        ("Giáo dục thể chất", false),
        ("Nghệ thuật", false),
        ("Hoạt động trải nghiệm", false),
    ]);
    subjects
}

const QUALITIES: [&str; 5] = [
    "Yêu nước",
    "Nhân ái",
    "Chăm chỉ",
    "Trung thực",
    "Trách nhiệm",
];
const GENERAL_COMPETENCIES: [&str; 3] = [
    "Tự chủ và tự học",
    "Giao tiếp và hợp tác",
    "Giải quyết vấn đề và sáng tạo",
];
const SPECIFIC_COMPETENCIES: [&str; 7] = [
    "Ngôn ngữ",
    "Tính toán",
    "Khoa học",
    "Công nghệ",
    "Tin học",
    "Thẩm mĩ",
    "Thể chất",
];

/// A result as the source gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawResult {
    /// (subject, level, score)
    pub subjects: Vec<(String, String, Option<i64>)>,
    pub qualities: Vec<(String, String)>,
    pub competencies: Vec<(String, String)>,
}

/// Checked: the subjects, qualities and competencies, or the column and why not.
pub(crate) type Checked = (Vec<SubjectResult>, Vec<RatedResult>, Vec<RatedResult>);

fn level(text: &str) -> Option<SubjectLevel> {
    match school::text::fold(text).as_str() {
        "hoan thanh tot" => Some(SubjectLevel::Excellent),
        "hoan thanh" => Some(SubjectLevel::Completed),
        "chua hoan thanh" => Some(SubjectLevel::NotCompleted),
        _ => None,
    }
}

fn rating(text: &str) -> Option<Rating> {
    match school::text::fold(text).as_str() {
        "tot" => Some(Rating::Good),
        "dat" => Some(Rating::Pass),
        "can co gang" => Some(Rating::NeedsEffort),
        _ => None,
    }
}

pub(crate) fn check(raw: &RawResult, grade: i32) -> Result<Checked, (&'static str, String)> {
    let expected = subjects(grade);
    let mut checked = Vec::new();
    for (subject, tested) in &expected {
        let Some((_, written, score)) = raw.subjects.iter().find(|(name, ..)| name == subject)
        else {
            return Err((
                "subjects",
                format!("{subject} has no result (grade {grade})"),
            ));
        };
        let level = level(written).ok_or_else(|| {
            (
                "subjects",
                format!("{subject}: {written:?} is no level of Circular 27/2020"),
            )
        })?;
        let score = match (tested, score) {
            (true, Some(score)) if (1..=10).contains(score) => *score as i32,
            (true, Some(score)) => {
                return Err((
                    "subjects",
                    format!("{subject}: the score {score} is not from 1 to 10"),
                ));
            }
            (true, None) => {
                return Err((
                    "subjects",
                    format!("{subject}: the periodic test's score is missing"),
                ));
            }
            (false, Some(_)) => {
                return Err((
                    "subjects",
                    format!("{subject} has no periodic test, yet a score"),
                ));
            }
            (false, None) => 0,
        };
        checked.push(SubjectResult {
            subject: (*subject).to_owned(),
            level: level as i32,
            score,
        });
    }
    if let Some((stray, ..)) = raw
        .subjects
        .iter()
        .find(|(name, ..)| !expected.iter().any(|(s, _)| s == name))
    {
        return Err((
            "subjects",
            format!("{stray} is no subject of grade {grade}"),
        ));
    }
    let rated =
        |column: &'static str, given: &[(String, String)], required: &[&str], optional: &[&str]| {
            let mut out = Vec::new();
            for name in required {
                if !given.iter().any(|(n, _)| n == name) {
                    return Err((column, format!("{name} is not assessed")));
                }
            }
            for (name, written) in given {
                if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
                    return Err((column, format!("{name} is not one of Circular 27/2020's")));
                }
                let rating = rating(written).ok_or_else(|| {
                    (
                        column,
                        format!("{name}: {written:?} is not Tốt, Đạt or Cần cố gắng"),
                    )
                })?;
                out.push(RatedResult {
                    name: name.clone(),
                    rating: rating as i32,
                });
            }
            Ok(out)
        };
    let qualities = rated("qualities", &raw.qualities, &QUALITIES, &[])?;
    let competencies = rated(
        "competencies",
        &raw.competencies,
        &GENERAL_COMPETENCIES,
        &SPECIFIC_COMPETENCIES,
    )?;
    Ok((checked, qualities, competencies))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(grade: i32) -> RawResult {
        RawResult {
            subjects: subjects(grade)
                .into_iter()
                .map(|(subject, tested)| {
                    (
                        subject.to_owned(),
                        "Hoàn thành".to_owned(),
                        tested.then_some(8),
                    )
                })
                .collect(),
            qualities: QUALITIES
                .iter()
                .map(|q| ((*q).to_owned(), "Tốt".to_owned()))
                .collect(),
            competencies: GENERAL_COMPETENCIES
                .iter()
                .map(|c| ((*c).to_owned(), "Đạt".to_owned()))
                .collect(),
        }
    }

    #[test]
    fn given_a_students_results_then_they_are_checked_against_the_circular() {
        type Edit = fn(&mut RawResult);
        // (grade, the change, the column refused; None when accepted)
        let table: [(i32, Edit, Option<&str>); 10] = [
            (1, |_| {}, None),
            (4, |_| {}, None),
            (5, |r| r.subjects[0].1 = "hoàn thành tốt".to_owned(), None),
            (2, |r| r.subjects[1].1 = "Giỏi".to_owned(), Some("subjects")),
            (2, |r| r.subjects[0].2 = None, Some("subjects")),
            (2, |r| r.subjects[0].2 = Some(11), Some("subjects")),
            (2, |r| r.subjects[2].2 = Some(9), Some("subjects")),
            (
                2,
                |r| {
                    r.subjects
                        .push(("Khoa học".to_owned(), "Hoàn thành".to_owned(), Some(7)))
                },
                Some("subjects"),
            ),
            (
                3,
                |r| {
                    r.qualities.pop();
                },
                Some("qualities"),
            ),
            (
                3,
                |r| {
                    r.competencies
                        .push(("Ngôn ngữ".to_owned(), "Xuất sắc".to_owned()))
                },
                Some("competencies"),
            ),
        ];
        for (n, (grade, edit, refused)) in table.into_iter().enumerate() {
            let mut raw = complete(grade);
            edit(&mut raw);
            match (check(&raw, grade), refused) {
                (Ok((subjects, qualities, competencies)), None) => {
                    assert_eq!(subjects.len(), super::subjects(grade).len(), "row {n}");
                    assert_eq!((qualities.len(), competencies.len()), (5, 3), "row {n}");
                }
                (Err((column, _)), Some(expected)) => assert_eq!(column, expected, "row {n}"),
                (got, expected) => panic!("row {n}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn the_tested_subjects_grow_with_the_grades() {
        let tested = |grade| subjects(grade).iter().filter(|(_, t)| *t).count();
        assert_eq!((tested(1), tested(3), tested(4)), (2, 4, 6));
    }
}
