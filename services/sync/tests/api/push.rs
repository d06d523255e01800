//! A class's closed month reaches the city database: sent once under its close's
//! key though the city fails a try, refused with the city's reason when the city
//! no longer has a student in that class, sent again when amended; the school's
//! status shows every class.

use std::time::Duration;

use citydb_sim::Faults;
use kernel::testing::eventually;
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::sync::v1 as pb;
use lienlac_test_support::{Identity, wait_until_attendance_knows};

use crate::helpers::*;

fn this_month() -> String {
    school::dates::local_today().to_string()[..7].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_month_reaches_the_city_once_an_amended_one_again_and_a_refusal_says_why() {
    let year = school_year();
    let stack = Stack::start(small_city(&year), Faults::default()).await;
    let (attendance, attendance_pool) = stack.start_attendance().await;
    let reporting = stack.start_reporting().await;
    let run = stack.finished(&stack.run_of_unit(false).await).await;
    let district = stack.export_district(&run.district_id).await;
    let school_id = district.schools[0].id.clone();
    let export = stack.export_school(&school_id).await;
    let class_of = |code: &str| {
        export
            .classes
            .iter()
            .find(|c| c.external_ref == code)
            .unwrap()
            .clone()
    };
    let (a1, a2) = (class_of("79999001-1A1"), class_of("79999001-1A2"));
    let students_of = |class: &id::Class| -> Vec<id::Person> {
        export
            .students
            .iter()
            .filter(|s| s.class_id == class.id)
            .cloned()
            .collect()
    };

    // The principal, from the mirrored staff.
    let identity = Identity::connect(stack.identity_addr).await;
    let principal = export
        .staff
        .iter()
        .find(|s| s.position == "Hiệu trưởng")
        .unwrap();
    let (account, username) = identity.account(&school_id, &principal.id).await;
    identity
        .grant(
            &account,
            id::Role::Principal,
            id::ScopeKind::School,
            &school_id,
        )
        .await;
    let token = identity.token(&username).await;
    for class in [&a1, &a2] {
        wait_until_attendance_knows(&attendance_pool, &class.id, students_of(class).len() as i64)
            .await;
    }
    let absent = students_of(&a1)[0].clone();
    let today = school::dates::local_today().to_string();
    for class in [&a1, &a2] {
        let marks = if class.id == a1.id {
            vec![att::Mark {
                student_id: absent.id.clone(),
                status: att::AttendanceStatus::AbsentUnexcused as i32,
                ..Default::default()
            }]
        } else {
            Vec::new()
        };
        attendance
            .clone()
            .submit_roll_call(with_token(
                att::SubmitRollCallRequest {
                    request_id: rid(),
                    class_id: class.id.clone(),
                    date: today.clone(),
                    session: att::Session::Morning as i32,
                    marks,
                    taken_at: String::new(),
                },
                &token,
            ))
            .await
            .unwrap();
    }
    let close = |class: &id::Class| {
        let mut attendance = attendance.clone();
        let request = att::CloseMonthRequest {
            request_id: rid(),
            class_id: class.id.clone(),
            month: this_month(),
        };
        let token = token.clone();
        async move {
            attendance
                .close_month(with_token(request, &token))
                .await
                .unwrap()
        }
    };
    let status = || async {
        stack
            .sync()
            .get_push_status(with_token(
                pb::GetPushStatusRequest {
                    school_id: school_id.clone(),
                    month: this_month(),
                },
                &stack.operator,
            ))
            .await
            .unwrap()
            .into_inner()
    };
    let state_of = |status: &pb::PushStatus, class: &id::Class| {
        status
            .classes
            .iter()
            .find(|c| c.class_id == class.id)
            .unwrap()
            .clone()
    };

    // The city fails every other request: 1A1's month is sent on a later try.
    stack.simulator.set_faults(Faults {
        error_every: 2,
        ..Faults::default()
    });
    close(&a1).await;
    let sent = eventually("1A1's month sent", Duration::from_secs(30), || async {
        let status = status().await;
        (state_of(&status, &a1).state == "sent").then_some(status)
    })
    .await;
    assert_eq!(state_of(&sent, &a2).state, "not_closed");
    assert_eq!((sent.sent, sent.classes_total), (1, 4));
    stack.simulator.set_faults(Faults::default());
    let received: Vec<_> = stack.simulator.city().monthly.into_values().collect();
    assert_eq!(received.len(), 1, "sent once, whatever the tries");
    assert_eq!(received[0].class_code, "79999001-1A1");
    let totals = received[0]
        .students
        .iter()
        .find(|s| s.student_code == absent.external_ref)
        .unwrap();
    assert_eq!((totals.absent_unexcused, totals.absent_excused), (1, 0));

    // Upstream, a student of 1A2 moved to 1A1 before the month was sent: the
    // city refuses 1A2's month and says why.
    let mover = students_of(&a2)[0].external_ref.clone();
    stack
        .simulator
        .edit(|city| city.edit_student(&mover, |s| s.class_code = "79999001-1A1".to_owned()));
    close(&a2).await;
    let refused = eventually("1A2's month refused", Duration::from_secs(30), || async {
        let status = status().await;
        let class = state_of(&status, &a2);
        (class.state == "refused").then_some(class)
    })
    .await;
    assert!(refused.reason.contains(&mover), "{}", refused.reason);

    // The school's adoption report of the month counts 1A1's homeroom teacher as
    // having transferred the month's totals, not 1A2's.
    let adoption = || async {
        let month = this_month();
        let last_day = (28..=31)
            .rev()
            .map(|day| format!("{month}-{day}"))
            .find(|day| kernel::dates::parse(day).is_some())
            .unwrap();
        reporting
            .clone()
            .get_adoption_report(with_token(
                lienlac_proto::reporting::v1::GetAdoptionReportRequest {
                    school_id: school_id.clone(),
                    from_date: format!("{month}-01"),
                    to_date: last_day,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
    };
    let report = eventually(
        "the adoption report counts 1A1's transfer",
        Duration::from_secs(30),
        || async {
            let report = adoption().await;
            let figures = report.schools[0].figures.unwrap();
            (figures.homeroom_teachers_transferred == 1).then_some(report)
        },
    )
    .await;
    assert_eq!(report.transfer_month, this_month());
    // The guardians the mirror imported with each class's roster are counted
    // once each.
    let guardians: std::collections::BTreeSet<&str> = export
        .students
        .iter()
        .flat_map(|s| s.guardianships.iter().map(|g| g.guardian_id.as_str()))
        .collect();
    assert!(!guardians.is_empty());
    let figures = report.schools[0].figures.unwrap();
    assert_eq!(figures.guardians_total as usize, guardians.len());
    let transferred: Vec<(&str, bool)> = report.schools[0]
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c.totals_transferred))
        .collect();
    assert_eq!(
        transferred,
        [
            ("1A1", true),
            ("1A2", false),
            ("2A1", false),
            ("3A1", false)
        ]
    );

    // 1A1 reopened, corrected and closed again: the amended totals go too.
    attendance
        .clone()
        .reopen_month(with_token(
            att::ReopenMonthRequest {
                request_id: rid(),
                class_id: a1.id.clone(),
                month: this_month(),
                reason: "Sửa điểm danh".to_owned(),
            },
            &token,
        ))
        .await
        .unwrap();
    close(&a1).await;
    eventually(
        "the amended month sent",
        Duration::from_secs(30),
        || async {
            let class = state_of(&status().await, &a1);
            (class.state == "sent" && class.amended).then_some(())
        },
    )
    .await;
    let amended = stack
        .simulator
        .city()
        .monthly
        .into_values()
        .filter(|m| m.class_code == "79999001-1A1")
        .filter(|m| m.amended)
        .count();
    assert_eq!(amended, 1);
}
