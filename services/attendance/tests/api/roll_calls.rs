//! Submitting and reading roll calls, corrections by resubmission, retries, offline
//! capture, concurrent submissions, and the events on NATS.

use std::time::Duration;

use futures::StreamExt as _;
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::AttendanceStatus::{AbsentUnexcused, Late, Present};
use prost::Message as _;
use tonic::Code;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_roll_call_marks_every_enrolled_student_and_unlisted_ones_are_present() {
    let stack = Stack::start().await;
    let today = stack.today();
    let request = stack.submission(
        &today,
        vec![
            mark(&stack.students[0], AbsentUnexcused),
            mark(&stack.students[1], Late),
        ],
    );
    let roll_call = stack.submit(&stack.homeroom, request).await.unwrap();
    assert_eq!(roll_call.marks.len(), 3);
    let status_of = |student: &str| {
        roll_call
            .marks
            .iter()
            .find(|m| m.student_id == student)
            .unwrap()
            .status
    };
    assert_eq!(status_of(&stack.students[0]), AbsentUnexcused as i32);
    assert_eq!(status_of(&stack.students[1]), Late as i32);
    assert_eq!(status_of(&stack.students[2]), Present as i32);
    assert_eq!(roll_call.version, 1);
    assert_eq!(
        stack.events(&today).await,
        vec!["RollCallSubmitted", "StudentAbsenceRecorded"]
    );
    let read = stack.get(&stack.principal, &today).await.unwrap();
    assert_eq!(read, roll_call);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_reported_late_takes_the_student_off_the_old_class_from_its_effective_day() {
    let stack = Stack::start().await;
    let moved = stack.students[0].clone();
    stack
        .identity
        .call(
            lienlac_proto::identity::v1::TransferStudentRequest {
                request_id: rid(),
                student_id: moved.clone(),
                to_class_id: stack.other_class_id.clone(),
                effective_date: stack.days_ago(3),
            },
            |mut c, r| async move { c.transfer_student(r).await },
        )
        .await;
    lienlac_test_support::wait_until_attendance_knows(&stack.pool, &stack.other_class_id, 2).await;
    let marked = |roll_call: pb::RollCall| -> Vec<String> {
        roll_call.marks.into_iter().map(|m| m.student_id).collect()
    };
    for (days_ago, in_the_old_class) in [(4, true), (3, false), (0, false)] {
        let date = stack.days_ago(days_ago);
        let roll_call = stack
            .submit(&stack.homeroom, stack.submission(&date, Vec::new()))
            .await
            .unwrap();
        assert_eq!(
            marked(roll_call).contains(&moved),
            in_the_old_class,
            "{days_ago} days ago"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn submitting_again_corrects_only_what_changed() {
    let stack = Stack::start().await;
    let today = stack.today();
    stack
        .submit(
            &stack.homeroom,
            stack.submission(&today, vec![mark(&stack.students[0], AbsentUnexcused)]),
        )
        .await
        .unwrap();
    let corrected = stack
        .submit(
            &stack.homeroom,
            stack.submission(&today, vec![mark(&stack.students[0], Late)]),
        )
        .await
        .unwrap();
    assert_eq!(corrected.version, 2);
    let same = stack
        .submit(
            &stack.principal,
            stack.submission(&today, vec![mark(&stack.students[0], Late)]),
        )
        .await
        .unwrap();
    assert_eq!(same.version, 2, "no change, no correction");
    assert_eq!(
        stack.events(&today).await,
        vec![
            "RollCallSubmitted",
            "StudentAbsenceRecorded",
            "MarkCorrected"
        ]
    );
    let correction: serde_json::Value =
        sqlx::query_scalar("SELECT data FROM events WHERE event_type = 'MarkCorrected'")
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(correction["from"], AbsentUnexcused as i32);
    assert_eq!(correction["to"], Late as i32);
    assert_eq!(correction["student_id"], stack.students[0].as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_submission_gets_the_first_answer_and_one_set_of_events() {
    let stack = Stack::start().await;
    let today = stack.today();
    let request = stack.submission(&today, vec![mark(&stack.students[2], AbsentUnexcused)]);
    let first = stack
        .submit(&stack.homeroom, request.clone())
        .await
        .unwrap();
    let retry = stack.submit(&stack.homeroom, request).await.unwrap();
    assert_eq!(first, retry);
    assert_eq!(stack.events(&today).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_roll_call_taken_offline_keeps_the_time_it_was_taken() {
    let stack = Stack::start().await;
    let yesterday = stack.days_ago(1);
    let mut request = stack.submission(&yesterday, vec![]);
    let taken = time::OffsetDateTime::now_utc() - time::Duration::hours(20);
    request.taken_at = taken
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let roll_call = stack.submit(&stack.homeroom, request).await.unwrap();
    let kept = time::OffsetDateTime::parse(
        &roll_call.taken_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(kept.unix_timestamp(), taken.unix_timestamp());
    assert!(roll_call.submitted_at > roll_call.taken_at);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_submissions_are_refused_clearly() {
    let stack = Stack::start().await;
    let today = stack.today();
    let stranger = stack
        .submit(
            &stack.homeroom,
            stack.submission(&today, vec![mark(&stack.other_student, AbsentUnexcused)]),
        )
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), Code::FailedPrecondition);
    assert!(
        stranger.message().contains("not enrolled"),
        "{}",
        stranger.message()
    );

    let twice = stack
        .submit(
            &stack.homeroom,
            stack.submission(
                &today,
                vec![
                    mark(&stack.students[0], Late),
                    mark(&stack.students[0], AbsentUnexcused),
                ],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::InvalidArgument);

    let tomorrow =
        (time::OffsetDateTime::now_utc() + time::Duration::hours(7) + time::Duration::days(1))
            .date()
            .to_string();
    let future = stack
        .submit(&stack.homeroom, stack.submission(&tomorrow, vec![]))
        .await
        .unwrap_err();
    assert_eq!(future.code(), Code::InvalidArgument);
    assert!(future.message().contains("future"), "{}", future.message());

    let mut unknown = stack.submission(&today, vec![]);
    unknown.class_id = rid();
    assert_eq!(
        stack
            .submit(&stack.homeroom, unknown)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    let mut no_session = stack.submission(&today, vec![]);
    no_session.session = 0;
    assert_eq!(
        stack
            .submit(&stack.homeroom, no_session)
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    assert!(stack.events(&today).await.is_empty());
}

#[tokio::test]
async fn oversized_submissions_are_refused_unread() {
    let stack = Stack::start().await;
    let today = stack.today();
    let too_many: Vec<pb::Mark> = (0..201).map(|_| mark(&rid(), Late)).collect();
    let refused = stack
        .submit(&stack.homeroom, stack.submission(&today, too_many))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("marks"), "{}", refused.message());

    // 5,000 copies of one mark: refused by the cap, not compared pair by pair.
    let copies = vec![mark(&stack.students[0], Late); 5_000];
    let refused = stack
        .submit(&stack.homeroom, stack.submission(&today, copies))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);

    let mut huge = stack.submission(&today, vec![mark(&stack.students[0], Late)]);
    huge.taken_at = "x".repeat(kernel::grpc::MAX_REQUEST_BYTES);
    let refused = stack.submit(&stack.homeroom, huge).await.unwrap_err();
    assert!(
        matches!(refused.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{refused:?}"
    );
    assert!(stack.events(&today).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_takers_submitting_at_once_never_lose_a_mark_or_mix_states() {
    let stack = Stack::start().await;
    let today = stack.today();
    let teacher = stack.submit(
        &stack.homeroom,
        stack.submission(&today, vec![mark(&stack.students[0], AbsentUnexcused)]),
    );
    let principal = stack.submit(
        &stack.principal,
        stack.submission(&today, vec![mark(&stack.students[1], Late)]),
    );
    let (teacher, principal) = tokio::join!(teacher, principal);
    for outcome in [&teacher, &principal] {
        if let Err(status) = outcome {
            assert_eq!(status.code(), Code::Aborted, "{}", status.message());
        }
    }
    let stored = stack.get(&stack.principal, &today).await.unwrap();
    let events = stack.events(&today).await;
    assert_eq!(
        events.iter().filter(|e| *e == "RollCallSubmitted").count(),
        1
    );
    // Whatever happened, the stored marks are one submission's view, replayed in order.
    let last = match (&teacher, &principal) {
        (Ok(a), Ok(b)) => {
            if a.version > b.version {
                a.clone()
            } else {
                b.clone()
            }
        }
        (Ok(a), Err(_)) | (Err(_), Ok(a)) => a.clone(),
        (Err(_), Err(_)) => panic!("at least one submission succeeds"),
    };
    assert_eq!(stored.marks, last.marks);
}

#[tokio::test(flavor = "multi_thread")]
async fn roll_call_events_reach_a_plain_nats_subscriber_with_the_contract_headers() {
    let stack = Stack::start().await;
    let client = stack.world.nats().await;
    let subject = format!(
        "{}.lienlac.attendance.v1.{}.{}.>",
        stack.world.namespace, stack.district_id, stack.school_id
    );
    let mut subscription = client.subscribe(subject).await.unwrap();
    let today = stack.today();
    stack
        .submit(
            &stack.homeroom,
            stack.submission(&today, vec![mark(&stack.students[0], AbsentUnexcused)]),
        )
        .await
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(20), subscription.next())
        .await
        .expect("RollCallSubmitted on NATS")
        .unwrap();
    assert!(
        message.subject.as_str().ends_with(".RollCallSubmitted"),
        "{}",
        message.subject
    );
    let headers = message.headers.clone().unwrap();
    assert_eq!(
        headers.get("ce-type").unwrap().as_str(),
        "lienlac.attendance.v1.RollCallSubmitted"
    );
    assert_eq!(
        headers.get("ce-source").unwrap().as_str(),
        format!("/lienlac/attendance/{}", stack.school_id)
    );
    assert_eq!(
        headers.get("ce-datacontenttype").unwrap().as_str(),
        "application/protobuf"
    );
    assert!(headers.get("traceparent").is_some());
    let event = pb::RollCallSubmitted::decode(message.payload.clone()).unwrap();
    assert_eq!(event.class_id, stack.class_id);
    assert_eq!(event.marks.len(), 3);
    let absence = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        absence
            .subject
            .as_str()
            .ends_with(".StudentAbsenceRecorded")
    );
    let absence = pb::StudentAbsenceRecorded::decode(absence.payload).unwrap();
    assert_eq!(absence.student_id, stack.students[0]);
}
