//! Timetables, menus and curriculum plans: who publishes them, the version in
//! force on a day for a guardian's child, the guardians told, and classification.

use kernel::testing::{request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::Classification;
use lienlac_test_support::today;
use tonic::Code;

use crate::helpers::Stack;

/// Today's date moved by `days`, as YYYY-MM-DD.
fn day(days: i64) -> String {
    let today = kernel::dates::parse(&today()).unwrap();
    kernel::dates::format(today + time::Duration::days(days))
}

/// The Monday of this week moved by `weeks`.
fn monday(weeks: i64) -> String {
    let today = kernel::dates::parse(&today()).unwrap();
    let monday = today - time::Duration::days(i64::from(today.weekday().number_days_from_monday()))
        + time::Duration::weeks(weeks);
    kernel::dates::format(monday)
}

fn slot(day: i32, period: i32, subject: &str) -> pb::TimetableSlot {
    pb::TimetableSlot {
        day,
        period,
        subject: subject.into(),
        teacher: "Cô Lan".into(),
        room: "P.101".into(),
    }
}

fn timetable(
    class_id: &str,
    from: String,
    classification: Classification,
    slots: Vec<pb::TimetableSlot>,
) -> pb::PublishTimetableRequest {
    pb::PublishTimetableRequest {
        request_id: request_id(),
        class_id: class_id.to_owned(),
        effective_from: from,
        classification: classification as i32,
        timetable: Some(pb::Timetable { slots }),
    }
}

fn subjects(bulletin: &pb::Bulletin) -> Vec<String> {
    match &bulletin.content {
        Some(pb::bulletin::Content::Timetable(t)) => {
            t.slots.iter().map(|s| s.subject.clone()).collect()
        }
        other => panic!("not a timetable: {other:?}"),
    }
}

async fn get_timetable(
    stack: &Stack,
    token: &str,
    request: pb::GetBulletinRequest,
) -> Result<pb::Bulletin, tonic::Status> {
    stack
        .client()
        .get_timetable(with_token(request, token))
        .await
        .map(|b| b.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guardian_reads_the_timetable_in_force_for_their_child_and_is_told_of_each_new_one() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let child = school.students[0].clone();
    let by_child = |date: String| pb::GetBulletinRequest {
        student_id: child.clone(),
        date,
        ..Default::default()
    };

    let none_yet = get_timetable(&stack, &school.guardian, by_child(String::new())).await;
    assert_eq!(none_yet.unwrap_err().code(), Code::NotFound);

    let first = client
        .publish_timetable(with_token(
            timetable(
                &school.class_id,
                monday(-1),
                Classification::Unspecified,
                vec![slot(1, 1, "Tiếng Việt"), slot(1, 2, "Toán")],
            ),
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (first.version, first.classification),
        (1, Classification::School as i32)
    );
    let next = client
        .publish_timetable(with_token(
            timetable(
                &school.class_id,
                monday(1),
                Classification::Class,
                vec![slot(1, 1, "Toán"), slot(2, 1, "Tiếng Anh")],
            ),
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.version, 2);

    let now = get_timetable(&stack, &school.guardian, by_child(day(0)))
        .await
        .unwrap();
    assert_eq!(subjects(&now), ["Tiếng Việt", "Toán"]);
    let next_week = get_timetable(&stack, &school.guardian, by_child(day(8)))
        .await
        .unwrap();
    assert_eq!(
        (next_week.version, subjects(&next_week)),
        (2, vec!["Toán".to_owned(), "Tiếng Anh".to_owned()])
    );

    // Each version told the class's guardians.
    let told = client
        .list_announcements(with_token(
            pb::ListAnnouncementsRequest::default(),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = told
        .entries
        .iter()
        .filter_map(|e| e.announcement.as_ref())
        .map(|a| a.id.as_str())
        .collect();
    assert!(
        ids.contains(&first.announcement_id.as_str())
            && ids.contains(&next.announcement_id.as_str())
    );
    let title = &told.entries[0].announcement.as_ref().unwrap().title;
    assert!(title.starts_with("Thời khóa biểu lớp 1A1"), "{title}");

    // Who may not: another class's teacher, another child's timetable, bad slots.
    let by_other_teacher = client
        .publish_timetable(with_token(
            timetable(
                &school.class_id,
                monday(2),
                Classification::Unspecified,
                vec![slot(1, 1, "Toán")],
            ),
            &school.other_homeroom,
        ))
        .await;
    assert_eq!(by_other_teacher.unwrap_err().code(), Code::PermissionDenied);
    let other_child = get_timetable(
        &stack,
        &school.guardian,
        pb::GetBulletinRequest {
            student_id: school.other_student.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(other_child.unwrap_err().code(), Code::PermissionDenied);
    for (case, slots) in [
        ("day 8", vec![slot(8, 1, "Toán")]),
        ("period 13", vec![slot(1, 13, "Toán")]),
        (
            "the same slot twice",
            vec![slot(1, 1, "Toán"), slot(1, 1, "Văn")],
        ),
        ("no subject", vec![slot(1, 1, " ")]),
        ("no slots", vec![]),
    ] {
        let refused = client
            .publish_timetable(with_token(
                timetable(
                    &school.class_id,
                    monday(2),
                    Classification::Unspecified,
                    slots,
                ),
                &school.principal,
            ))
            .await;
        assert_eq!(refused.unwrap_err().code(), Code::InvalidArgument, "{case}");
    }
    let confidential = client
        .publish_timetable(with_token(
            timetable(
                &school.class_id,
                monday(2),
                Classification::Confidential,
                vec![slot(1, 1, "Toán")],
            ),
            &school.principal,
        ))
        .await;
    assert_eq!(
        confidential.unwrap_err().code(),
        Code::InvalidArgument,
        "a bulletin names no recipients"
    );

    // A class-classified timetable is the class's: not 1A2's teacher's.
    let by_class = pb::GetBulletinRequest {
        class_id: school.class_id.clone(),
        date: day(8),
        ..Default::default()
    };
    let outside = get_timetable(&stack, &school.other_homeroom, by_class.clone()).await;
    assert_eq!(outside.unwrap_err().code(), Code::PermissionDenied);
    assert!(
        get_timetable(&stack, &school.principal, by_class)
            .await
            .is_ok()
    );
    let school_wide = pb::GetBulletinRequest {
        class_id: school.class_id.clone(),
        ..Default::default()
    };
    assert!(
        get_timetable(&stack, &school.other_homeroom, school_wide)
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schools_menu_and_a_classs_plan_answer_for_the_day_asked() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let lunch = |dishes: &[&str]| pb::Meal {
        name: "Bữa trưa".into(),
        dishes: dishes.iter().map(|d| d.to_string()).collect(),
        allergens: vec!["tôm".into()],
    };
    let menu = pb::PublishMenuRequest {
        request_id: request_id(),
        school_id: school.school_id.clone(),
        effective_from: monday(0),
        classification: Classification::Public as i32,
        menu: Some(pb::Menu {
            days: vec![
                pb::MenuDay {
                    day: 1,
                    meals: vec![lunch(&["Cơm", "Canh chua tôm"])],
                },
                pb::MenuDay {
                    day: 2,
                    meals: vec![lunch(&["Bún bò"])],
                },
            ],
        }),
    };
    let by_teacher = client
        .publish_menu(with_token(menu.clone(), &school.homeroom))
        .await;
    assert_eq!(by_teacher.unwrap_err().code(), Code::PermissionDenied);
    client
        .publish_menu(with_token(menu, &school.principal))
        .await
        .unwrap();
    let for_child = client
        .get_menu(with_token(
            pb::GetBulletinRequest {
                student_id: school.students[0].clone(),
                ..Default::default()
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    match for_child.content {
        Some(pb::bulletin::Content::Menu(menu)) => {
            assert_eq!(menu.days[0].meals[0].dishes, ["Cơm", "Canh chua tôm"]);
            assert_eq!(menu.days[0].meals[0].allergens, ["tôm"]);
        }
        other => panic!("not a menu: {other:?}"),
    }
    let elsewhere = client
        .get_menu(with_token(
            pb::GetBulletinRequest {
                school_id: school.school_id.clone(),
                ..Default::default()
            },
            &school.other_school_principal,
        ))
        .await;
    assert_eq!(elsewhere.unwrap_err().code(), Code::PermissionDenied);

    let week = |week_of: String, lesson: &str| pb::CurriculumWeek {
        week_of,
        subjects: vec![pb::SubjectLessons {
            subject: "Toán".into(),
            lessons: vec![lesson.into()],
        }],
    };
    let plan = |weeks: Vec<pb::CurriculumWeek>| pb::PublishCurriculumPlanRequest {
        request_id: request_id(),
        class_id: school.class_id.clone(),
        effective_from: monday(0),
        classification: Classification::Unspecified as i32,
        plan: Some(pb::CurriculumPlan { weeks }),
    };
    let tuesday = {
        let this_monday = kernel::dates::parse(&monday(0)).unwrap();
        kernel::dates::format(this_monday + time::Duration::days(1))
    };
    let not_monday = client
        .publish_curriculum_plan(with_token(
            plan(vec![week(tuesday, "Bài 1")]),
            &school.homeroom,
        ))
        .await;
    assert_eq!(not_monday.unwrap_err().code(), Code::InvalidArgument);
    client
        .publish_curriculum_plan(with_token(
            plan(vec![
                week(monday(0), "Phép cộng trong phạm vi 10"),
                week(monday(1), "Phép trừ trong phạm vi 10"),
            ]),
            &school.homeroom,
        ))
        .await
        .unwrap();
    let next_week = client
        .get_curriculum_plan(with_token(
            pb::GetBulletinRequest {
                student_id: school.students[0].clone(),
                date: day(7),
                ..Default::default()
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    match next_week.content {
        Some(pb::bulletin::Content::CurriculumPlan(plan)) => {
            assert_eq!(plan.weeks.len(), 1, "only the week asked for");
            assert_eq!(plan.weeks[0].week_of, monday(1));
            assert_eq!(
                plan.weeks[0].subjects[0].lessons,
                ["Phép trừ trong phạm vi 10"]
            );
        }
        other => panic!("not a plan: {other:?}"),
    }
}
