//! Absence notices from the roll call to the guardian's app: an absence raises
//! one notice per guardian, in Vietnamese, however often it is delivered; a
//! correction after the guardian saw it follows it up; an absence an approved
//! leave covers raises none.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::time::Duration;

use kernel::testing::{TestWorld, channel, eventually, request_id, with_token};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_test_stack::{SchoolDay, start_school_day};
use lienlac_test_support::today;
use tokio_util::sync::CancellationToken;
use tonic::Code;

async fn notices(
    messaging: &MessagingServiceClient<tonic::transport::Channel>,
    token: &str,
) -> Vec<pb::Notice> {
    messaging
        .clone()
        .list_notices(with_token(pb::ListNoticesRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .notices
}

/// The guardian's notices once there are `count`, newest first.
async fn once_there_are(
    messaging: &MessagingServiceClient<tonic::transport::Channel>,
    token: &str,
    count: usize,
) -> Vec<pb::Notice> {
    eventually(
        "the guardian's notices",
        Duration::from_secs(15),
        || async {
            let listed = notices(messaging, token).await;
            (listed.len() >= count).then_some(listed)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guardian_hears_of_an_absence_once_hears_it_corrected_and_not_of_an_excused_leave() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let SchoolDay {
        attendance,
        messaging,
        school,
        ..
    } = start_school_day(&world, &stop).await;
    let mut roll_calls = AttendanceServiceClient::new(channel(attendance));
    let messaging = MessagingServiceClient::new(channel(messaging));
    let child = school.students[0].clone();
    let roll_call =
        |session: att::Session, status: att::AttendanceStatus| att::SubmitRollCallRequest {
            request_id: request_id(),
            class_id: school.class_id.clone(),
            date: today(),
            session: session as i32,
            marks: vec![att::Mark {
                student_id: child.clone(),
                status: status as i32,
                ..Default::default()
            }],
            taken_at: String::new(),
        };
    // The homeroom teacher corrects the child's morning mark.
    let morning_corrected = |status: att::AttendanceStatus, reason: &str| {
        with_token(
            att::CorrectMarkRequest {
                request_id: request_id(),
                class_id: school.class_id.clone(),
                date: today(),
                session: att::Session::Morning as i32,
                student_id: child.clone(),
                status: status as i32,
                reason: reason.to_owned(),
                note: String::new(),
            },
            &school.homeroom,
        )
    };
    // The guardian's app is open.
    let mut live = messaging
        .clone()
        .subscribe(with_token(
            pb::SubscribeRequest::default(),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    roll_calls
        .submit_roll_call(with_token(
            roll_call(
                att::Session::Morning,
                att::AttendanceStatus::AbsentUnexcused,
            ),
            &school.homeroom,
        ))
        .await
        .unwrap();
    let pushed = loop {
        let update = tokio::time::timeout(Duration::from_secs(10), live.message())
            .await
            .expect("the notice within ten seconds")
            .unwrap()
            .expect("the stream goes on");
        if let Some(pb::update::Item::Notice(notice)) = update.item {
            break notice;
        }
    };
    assert!(pushed.text.starts_with("Thông báo: em "), "{}", pushed.text);
    drop(live);

    let first = once_there_are(&messaging, &school.guardian, 1).await;
    assert_eq!(
        first[0].id, pushed.id,
        "the notice pushed is the one listed"
    );
    assert_eq!(first.len(), 1, "{first:?}");
    let (day, month, year) = {
        let date = school::dates::local_today();
        (date.day(), date.month() as u8, date.year())
    };
    let expected_end =
        format!("(lớp 1A1) vắng buổi sáng ngày {day:02}/{month:02}/{year}, không phép.");
    assert!(
        first[0].text.starts_with("Thông báo: em ") && first[0].text.ends_with(&expected_end),
        "{}",
        first[0].text
    );
    assert!(
        first[0].text.len() > "Thông báo: em  ".len() + expected_end.len(),
        "the child is named: {}",
        first[0].text
    );
    assert!(
        notices(&messaging, &school.principal).await.is_empty(),
        "a guardian's notices are theirs"
    );

    // The guardian has seen it; the child came after all.
    roll_calls
        .correct_mark(morning_corrected(
            att::AttendanceStatus::Present,
            "Em đến muộn, đã có mặt",
        ))
        .await
        .unwrap();
    let followed = once_there_are(&messaging, &school.guardian, 2).await;
    assert_eq!(followed[0].follows, first[0].id);
    assert!(
        followed[0].text.ends_with(": đã có mặt."),
        "{}",
        followed[0].text
    );

    // An approved leave for the afternoon: its absence raises nothing.
    let leave = roll_calls
        .request_leave(with_token(
            att::RequestLeaveRequest {
                request_id: request_id(),
                student_id: child.clone(),
                from_date: today(),
                to_date: today(),
                sessions: vec![att::Session::Afternoon as i32],
                reason: "Đi khám răng".into(),
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    roll_calls
        .decide_leave(with_token(
            att::DecideLeaveRequest {
                request_id: request_id(),
                leave_id: leave.id,
                approve: true,
                comment: String::new(),
            },
            &school.homeroom,
        ))
        .await
        .unwrap();
    roll_calls
        .submit_roll_call(with_token(
            roll_call(
                att::Session::Afternoon,
                att::AttendanceStatus::AbsentExcused,
            ),
            &school.homeroom,
        ))
        .await
        .unwrap();
    // Marked absent again in the morning, after the afternoon's roll call: once
    // its follow-up is there, the afternoon's absence was handled before it.
    roll_calls
        .correct_mark(morning_corrected(
            att::AttendanceStatus::AbsentUnexcused,
            "Nhầm lẫn: em vắng",
        ))
        .await
        .unwrap();
    let last = once_there_are(&messaging, &school.guardian, 3).await;
    assert_eq!(
        last.len(),
        3,
        "no notice of the excused afternoon: {last:?}"
    );
    assert!(
        last[0].text.ends_with(": chuyển thành vắng không phép."),
        "{}",
        last[0].text
    );
    assert!(
        last.iter()
            .all(|n| n.session == att::Session::Morning as i32)
    );

    // Reading it; nobody reads another's.
    let read = messaging
        .clone()
        .mark_notice_read(with_token(
            pb::NoticeRef {
                notice_id: last[0].id.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!read.read_at.is_empty());
    let others = messaging
        .clone()
        .mark_notice_read(with_token(
            pb::NoticeRef {
                notice_id: last[0].id.clone(),
            },
            &school.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(others.code(), Code::NotFound);

    // Each notice is one event of messaging's, for the bus and the live apps.
    let schema = world.config(kernel::config::ServiceId::MESSAGING).schema;
    let raised: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{schema}\".events WHERE event_type = 'AbsenceNoticeRaised'"
    )))
    .fetch_one(&mut world.admin().await)
    .await
    .unwrap();
    assert_eq!(raised, 3);
    stop.cancel();
}
