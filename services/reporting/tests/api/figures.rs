//! The figures follow roll calls and corrections.

use lienlac_proto::attendance::v1::AttendanceStatus::{
    AbsentExcused, AbsentUnexcused, Late, Present,
};
use lienlac_proto::identity::v1 as id;
use lienlac_proto::reporting::v1 as pb;

use crate::helpers::{Stack, rid, with_token};

#[tokio::test]
async fn the_school_and_district_summaries_follow_a_roll_call_and_its_correction() {
    let stack = Stack::start().await;
    let today = stack.today();
    stack
        .submit(&today, &[(0, AbsentExcused), (1, AbsentUnexcused)])
        .await;

    let summary = stack.until_morning_counts(&today, [1, 1, 1, 0]).await;
    let morning = &summary.sessions[0];
    assert_eq!(summary.school_name, "Trường Tiểu học Tân Thông");
    assert_eq!((morning.classes_total, morning.classes_submitted), (2, 1));
    let missing: Vec<&str> = morning
        .missing
        .iter()
        .map(|class| class.name.as_str())
        .collect();
    assert_eq!(missing, ["1A2"]);
    assert_eq!(morning.students_marked, 3);
    assert!((morning.absence_rate - 2.0 / 3.0).abs() < 1e-9);
    let afternoon = &summary.sessions[1];
    assert_eq!(
        (
            afternoon.classes_total,
            afternoon.classes_submitted,
            afternoon.students_marked
        ),
        (2, 0, 0)
    );

    stack.correct(&today, 1, Late).await;
    stack.until_morning_counts(&today, [1, 1, 0, 1]).await;

    let district = stack
        .reporting
        .clone()
        .get_district_daily_summary(with_token(
            pb::GetDistrictDailySummaryRequest {
                district_id: stack.district_id.clone(),
                date: today.clone(),
            },
            &stack.district_admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = district
        .schools
        .iter()
        .map(|school| school.school_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Trường Tiểu học Tân Thông", "Trường Tiểu học Tân Tiến"]
    );
    let ours = &district.schools[0].sessions[0];
    assert_eq!((ours.classes_total, ours.classes_submitted), (2, 1));
    assert_eq!(
        ours.counts,
        Some(pb::StatusCounts {
            present: 1,
            absent_excused: 1,
            absent_unexcused: 0,
            late: 1
        })
    );
    assert_eq!(district.totals[0].classes_total, 2);
    assert_eq!(district.totals[0].counts, ours.counts);
}

#[tokio::test]
async fn class_attendance_shows_every_students_mark_and_student_absences_count_the_year() {
    let stack = Stack::start().await;
    let (yesterday, today) = (stack.days_ago(1), stack.today());
    stack.submit(&yesterday, &[(0, AbsentUnexcused)]).await;
    stack.submit(&today, &[(0, AbsentExcused), (2, Late)]).await;
    stack.until_morning_counts(&today, [1, 1, 0, 1]).await;
    // A correction to present removes the absence.
    stack.correct(&yesterday, 0, Present).await;
    stack.until_morning_counts(&yesterday, [3, 0, 0, 0]).await;

    let class = stack
        .reporting
        .clone()
        .get_class_attendance(with_token(
            pb::GetClassAttendanceRequest {
                class_id: stack.class_id.clone(),
                from_date: yesterday.clone(),
                to_date: today.clone(),
            },
            &stack.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(class.class_name, "1A1");
    assert_eq!(class.roll_calls.len(), 2);
    let last = &class.roll_calls[1];
    assert_eq!(last.date, today);
    let marks: Vec<(&str, i32)> = last
        .marks
        .iter()
        .map(|m| (m.full_name.as_str(), m.status))
        .collect();
    assert_eq!(
        marks,
        [
            ("Lê Văn Cường", Late as i32),
            ("Nguyễn Thị Ánh", AbsentExcused as i32),
            ("Trần Văn Bình", Present as i32),
        ]
    );
    assert!(
        class.roll_calls[0]
            .marks
            .iter()
            .all(|m| m.status == Present as i32)
    );

    let absences = stack
        .reporting
        .clone()
        .get_student_absences(with_token(
            pb::GetStudentAbsencesRequest {
                student_id: stack.students[0].clone(),
                from_date: yesterday.clone(),
                to_date: today.clone(),
            },
            &stack.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(absences.full_name, "Nguyễn Thị Ánh");
    assert_eq!(absences.sessions.len(), 1);
    assert_eq!(absences.sessions[0].status, AbsentExcused as i32);
    assert_eq!(absences.school_year_absent_sessions, 1);
    assert_eq!((absences.absence_limit, absences.warn_from), (45, 30));
    assert_eq!(absences.standing, pb::AbsenceStanding::WithinLimit as i32);
    let months: i32 = absences
        .months
        .iter()
        .map(|m| m.absent_excused_sessions)
        .sum();
    assert_eq!(months, 1);
}

#[tokio::test]
async fn the_adoption_report_counts_staff_accounts_homeroom_teachers_and_guardians() {
    let stack = Stack::start().await;
    let today = stack.today();
    stack.submit(&today, &[]).await;
    stack.until_morning_counts(&today, [3, 0, 0, 0]).await;

    let report = stack
        .reporting
        .clone()
        .get_adoption_report(with_token(
            pb::GetAdoptionReportRequest {
                school_id: stack.school_id.clone(),
                from_date: today.clone(),
                to_date: today.clone(),
                ..Default::default()
            },
            &stack.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    let school = &report.schools[0];
    let figures = school.figures.unwrap();
    // Four staff registered in S (two homeroom teachers, the principal, the district
    // admin registered there), each issued and activated; all signed in today.
    assert_eq!(figures.staff_total, 4);
    assert_eq!(
        (
            figures.staff_with_account,
            figures.staff_activated,
            figures.staff_signed_in
        ),
        (4, 4, 4)
    );
    assert_eq!(figures.homeroom_teachers_total, 2);
    // 1A1 took attendance today; 1A2 did not. (On a weekend, today is a school day
    // because 1A1 took attendance on it.)
    assert_eq!(figures.homeroom_teachers_regular, 1);
    assert_eq!(
        (figures.guardians_total, figures.guardians_activated),
        (1, 1)
    );
    assert_eq!(figures.roll_calls_submitted, 1);
    let classes: Vec<(&str, i32, i32)> = school
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c.guardians_total, c.days_with_roll_call))
        .collect();
    assert_eq!(classes, [("1A1", 1, 1), ("1A2", 0, 0)]);
    assert_eq!(school.school_days, 1);

    // A parent of two children, in 1A1 and 1A2, counts once for the school and the
    // district; activating their account moves the activated figures everywhere.
    let parent = stack
        .identity
        .call(
            id::RegisterGuardianRequest {
                request_id: rid(),
                school_id: stack.school_id.clone(),
                full_name: "Võ Thị Hạnh".into(),
                phone: format!(
                    "0908{:06}",
                    u32::from_str_radix(&rid()[30..], 16).unwrap() % 1_000_000
                ),
                ..Default::default()
            },
            |mut c, r| async move { c.register_guardian(r).await },
        )
        .await
        .id;
    for student in [&stack.students[1], &stack.other_student] {
        stack
            .identity
            .call(
                id::LinkGuardianRequest {
                    request_id: rid(),
                    guardian_id: parent.clone(),
                    student_id: student.clone(),
                    relation: id::Relation::Mother as i32,
                },
                |mut c, r| async move { c.link_guardian(r).await },
            )
            .await;
    }
    stack
        .until_guardian_figures(&today, [("1A1", 2, 1), ("1A2", 1, 0)], (2, 1))
        .await;
    stack.identity.account(&stack.school_id, &parent).await;
    stack
        .until_guardian_figures(&today, [("1A1", 2, 2), ("1A2", 1, 1)], (2, 2))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_period_at_the_end_of_time_is_invalid_argument_not_a_panic() {
    let stack = Stack::start().await;
    for (from, to) in [("9999-12-31", "9999-12-31"), ("2199-12-31", "2199-12-31")] {
        let answer = stack
            .reporting
            .clone()
            .get_adoption_report(with_token(
                pb::GetAdoptionReportRequest {
                    school_id: stack.school_id.clone(),
                    from_date: from.to_owned(),
                    to_date: to.to_owned(),
                    ..Default::default()
                },
                &stack.principal,
            ))
            .await;
        match (from, answer) {
            ("9999-12-31", Err(status)) => {
                assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}")
            }
            ("2199-12-31", Ok(_)) => {}
            (from, other) => panic!("{from}: {other:?}"),
        }
    }
}
