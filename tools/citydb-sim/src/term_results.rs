//! Term results as the city database holds them, made up for each studying
//! student the same way every time: for primary school, Circular 27/2020's
//! assessment — each subject's level (Hoàn thành tốt, Hoàn thành, Chưa hoàn
//! thành), the periodic test's score where the circular has one, the qualities
//! and competencies (Tốt, Đạt, Cần cố gắng) and the teacher's comment.

use serde::Serialize;

use crate::generate::pick;
use crate::model::{City, Class, Student};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubjectResult {
    pub subject: String,
    pub level: String,
    /// The periodic test's score (1–10), for the subjects that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i32>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rated {
    pub name: String,
    pub level: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TermResult {
    pub student_code: String,
    pub class_code: String,
    pub subjects: Vec<SubjectResult>,
    pub qualities: Vec<Rated>,
    pub competencies: Vec<Rated>,
    pub comment: String,
}

/// The subjects of a primary grade, and whether a periodic test scores them.
pub fn subjects(grade: i32) -> Vec<(&'static str, bool)> {
    let mut subjects = vec![("Tiếng Việt", true), ("Toán", true), ("Đạo đức", false)];
    if grade <= 3 {
        subjects.push(("Tự nhiên và Xã hội", false));
    } else {
        subjects.push(("Khoa học", true));
        subjects.push(("Lịch sử và Địa lí", true));
    }
    if grade >= 3 {
        subjects.push(("Tin học và Công nghệ", true));
        subjects.push(("Ngoại ngữ 1", true));
    }
    subjects.extend([
        ("Giáo dục thể chất", false),
        ("Nghệ thuật", false),
        ("Hoạt động trải nghiệm", false),
    ]);
    subjects
}

pub const QUALITIES: [&str; 5] = [
    "Yêu nước",
    "Nhân ái",
    "Chăm chỉ",
    "Trung thực",
    "Trách nhiệm",
];
pub const COMPETENCIES: [&str; 8] = [
    "Tự chủ và tự học",
    "Giao tiếp và hợp tác",
    "Giải quyết vấn đề và sáng tạo",
    "Ngôn ngữ",
    "Tính toán",
    "Khoa học",
    "Thẩm mĩ",
    "Thể chất",
];
const COMMENTS: [&str; 5] = [
    "Em chăm chỉ, tiếp thu bài tốt.",
    "Em đọc to, rõ ràng; cần rèn thêm chữ viết.",
    "Em tích cực phát biểu, hợp tác tốt với bạn.",
    "Em cần cố gắng hơn ở môn Toán.",
    "Em ngoan, lễ phép, hoàn thành tốt nhiệm vụ học tập.",
];

/// The results of a school's studying students in `term` (1 or 2).
pub fn of_school(city: &City, school_code: &str, term: i32) -> Vec<TermResult> {
    let classes: std::collections::HashMap<&str, &Class> = city
        .classes
        .iter()
        .filter(|c| c.school_code == school_code)
        .map(|c| (c.code.as_str(), c))
        .collect();
    let mut seen = std::collections::HashSet::new();
    city.students
        .iter()
        .filter(|s| s.school_code == school_code && s.status == "studying")
        .filter(|s| seen.insert(s.code.clone()))
        .filter_map(|s| {
            classes
                .get(s.class_code.as_str())
                .map(|class| result(s, class, term))
        })
        .collect()
}

fn result(student: &Student, class: &Class, term: i32) -> TermResult {
    let key = |what: &str| format!("{}:{term}:{what}", student.code);
    let level = |what: &str| match pick(&key(what), 10) {
        0..=3 => "Hoàn thành tốt",
        4..=8 => "Hoàn thành",
        _ => "Chưa hoàn thành",
    };
    let rating = |what: &str| match pick(&key(what), 10) {
        0..=4 => "Tốt",
        5..=8 => "Đạt",
        _ => "Cần cố gắng",
    };
    TermResult {
        student_code: student.code.clone(),
        class_code: class.code.clone(),
        subjects: subjects(class.grade)
            .into_iter()
            .map(|(subject, tested)| SubjectResult {
                subject: subject.to_owned(),
                level: level(subject).to_owned(),
                score: tested.then(|| 5 + pick(&key(&format!("{subject}:score")), 6) as i32),
            })
            .collect(),
        qualities: QUALITIES
            .iter()
            .map(|name| Rated {
                name: (*name).to_owned(),
                level: rating(name).to_owned(),
            })
            .collect(),
        competencies: COMPETENCIES
            .iter()
            .map(|name| Rated {
                name: (*name).to_owned(),
                level: rating(name).to_owned(),
            })
            .collect(),
        comment: COMMENTS[pick(&key("comment"), COMMENTS.len())].to_owned(),
    }
}
