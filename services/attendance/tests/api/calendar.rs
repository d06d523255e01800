//! Corrections with their window, closure days, month closing and reopening, and
//! the classes still missing a roll call.

use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::AttendanceStatus::{AbsentExcused, AbsentUnexcused, Late};
use tonic::Code;

use crate::helpers::*;

fn correction(
    stack: &Stack,
    date: &str,
    student: &str,
    status: pb::AttendanceStatus,
    reason: &str,
) -> pb::CorrectMarkRequest {
    pb::CorrectMarkRequest {
        request_id: rid(),
        class_id: stack.class_id.clone(),
        date: date.to_owned(),
        session: pb::Session::Morning as i32,
        student_id: student.to_owned(),
        status: status as i32,
        reason: reason.to_owned(),
        note: String::new(),
    }
}

async fn correct(
    stack: &Stack,
    token: &str,
    request: pb::CorrectMarkRequest,
) -> Result<pb::RollCall, tonic::Status> {
    stack
        .attendance
        .clone()
        .correct_mark(with_token(request, token))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_homeroom_teacher_corrects_within_the_window_and_the_principal_after_it() {
    let stack = Stack::start().await;
    let today = stack.today();
    stack
        .submit(
            &stack.homeroom,
            stack.submission(&today, vec![mark(&stack.students[0], AbsentUnexcused)]),
        )
        .await
        .unwrap();
    let corrected = correct(
        &stack,
        &stack.homeroom,
        correction(
            &stack,
            &today,
            &stack.students[0],
            AbsentExcused,
            "phụ huynh gọi điện xin phép",
        ),
    )
    .await
    .unwrap();
    assert_eq!(corrected.version, 2);
    let reason: String =
        sqlx::query_scalar("SELECT data->>'reason' FROM events WHERE event_type = 'MarkCorrected'")
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(reason, "phụ huynh gọi điện xin phép");

    let no_reason = correct(
        &stack,
        &stack.homeroom,
        correction(&stack, &today, &stack.students[0], Late, " "),
    )
    .await
    .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);

    let old = stack.days_ago(8);
    stack
        .submit(&stack.homeroom, stack.submission(&old, vec![]))
        .await
        .unwrap();
    let late = correct(
        &stack,
        &stack.homeroom,
        correction(&stack, &old, &stack.students[1], Late, "đi muộn"),
    )
    .await
    .unwrap_err();
    assert_eq!(late.code(), Code::PermissionDenied);
    assert!(late.message().contains("principal"), "{}", late.message());
    let resubmitted = stack
        .submit(
            &stack.homeroom,
            stack.submission(&old, vec![mark(&stack.students[1], Late)]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        resubmitted.code(),
        Code::PermissionDenied,
        "resubmitting is correcting too"
    );
    correct(
        &stack,
        &stack.principal,
        correction(&stack, &old, &stack.students[1], Late, "đi muộn"),
    )
    .await
    .unwrap();

    let missing = correct(
        &stack,
        &stack.principal,
        correction(&stack, &stack.days_ago(2), &stack.students[1], Late, "x"),
    )
    .await
    .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn closure_days_have_no_roll_calls() {
    let stack = Stack::start().await;
    let today = stack.today();
    let closure = |from: String, to: String| pb::DeclareClosureRequest {
        request_id: rid(),
        school_id: stack.school_id.clone(),
        from_date: from,
        to_date: to,
        reason: "Bão".into(),
    };
    let by_teacher = stack
        .attendance
        .clone()
        .declare_closure(with_token(
            closure(stack.days_ago(2), stack.days_ago(1)),
            &stack.homeroom,
        ))
        .await
        .unwrap_err();
    assert_eq!(by_teacher.code(), Code::PermissionDenied);
    stack
        .attendance
        .clone()
        .declare_closure(with_token(
            closure(stack.days_ago(2), stack.days_ago(1)),
            &stack.principal,
        ))
        .await
        .unwrap();
    let on_closure = stack
        .submit(
            &stack.homeroom,
            stack.submission(&stack.days_ago(1), vec![]),
        )
        .await
        .unwrap_err();
    assert_eq!(on_closure.code(), Code::FailedPrecondition);
    assert!(
        on_closure.message().contains("closed"),
        "{}",
        on_closure.message()
    );

    stack
        .submit(&stack.homeroom, stack.submission(&today, vec![]))
        .await
        .unwrap();
    let over_taken = stack
        .attendance
        .clone()
        .declare_closure(with_token(
            closure(today.clone(), today.clone()),
            &stack.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(over_taken.code(), Code::FailedPrecondition);

    let missing = stack
        .attendance
        .clone()
        .list_missing_roll_calls(with_token(
            pb::ListMissingRollCallsRequest {
                school_id: stack.school_id.clone(),
                date: stack.days_ago(1),
                session: pb::Session::Morning as i32,
            },
            &stack.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(missing.closed);
    assert!(missing.class_ids.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_classes_still_missing_a_roll_call_are_listed() {
    let stack = Stack::start().await;
    let today = stack.today();
    let missing = |token: String| {
        let mut client = stack.attendance.clone();
        let request = pb::ListMissingRollCallsRequest {
            school_id: stack.school_id.clone(),
            date: today.clone(),
            session: pb::Session::Morning as i32,
        };
        async move {
            client
                .list_missing_roll_calls(with_token(request, &token))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let before = missing(stack.principal.clone()).await.unwrap();
    assert_eq!(before.classes_total, 2);
    assert_eq!(before.class_ids.len(), 2);
    stack
        .submit(&stack.homeroom, stack.submission(&today, vec![]))
        .await
        .unwrap();
    let after = missing(stack.principal.clone()).await.unwrap();
    assert_eq!(after.class_ids, vec![stack.other_class_id.clone()]);
    assert_eq!(
        missing(stack.homeroom.clone()).await.unwrap_err().code(),
        Code::PermissionDenied
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_month_publishes_totals_and_reopening_lets_the_principal_amend_them() {
    let stack = Stack::start().await;
    let today = stack.today();
    let month = today[..7].to_owned();
    stack
        .submit(
            &stack.homeroom,
            stack.submission(
                &today,
                vec![
                    mark(&stack.students[0], AbsentUnexcused),
                    mark(&stack.students[1], Late),
                ],
            ),
        )
        .await
        .unwrap();
    let close = |token: &str| {
        let mut client = stack.attendance.clone();
        let request = pb::CloseMonthRequest {
            request_id: rid(),
            class_id: stack.class_id.clone(),
            month: month.clone(),
        };
        let token = token.to_owned();
        async move {
            client
                .close_month(with_token(request, &token))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let summary = close(&stack.homeroom).await.unwrap();
    assert!(summary.closed);
    let of = |summary: &pb::MonthSummary, student: &str| {
        summary
            .totals
            .iter()
            .find(|t| t.student_id == student)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        of(&summary, &stack.students[0]).absent_unexcused_sessions,
        1
    );
    assert_eq!(of(&summary, &stack.students[1]).late_count, 1);
    assert_eq!(of(&summary, &stack.students[2]).absent_excused_sessions, 0);

    let in_closed = correct(
        &stack,
        &stack.homeroom,
        correction(
            &stack,
            &today,
            &stack.students[0],
            AbsentExcused,
            "giấy phép",
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(in_closed.code(), Code::FailedPrecondition);
    let mut afternoon = stack.submission(&today, vec![]);
    afternoon.session = pb::Session::Afternoon as i32;
    let submitted_in_closed = stack.submit(&stack.homeroom, afternoon).await.unwrap_err();
    assert_eq!(
        submitted_in_closed.code(),
        Code::FailedPrecondition,
        "a closed month takes no roll call either"
    );
    assert_eq!(
        close(&stack.principal).await.unwrap_err().code(),
        Code::FailedPrecondition,
        "already closed"
    );

    let reopen = |token: &str| {
        let mut client = stack.attendance.clone();
        let request = pb::ReopenMonthRequest {
            request_id: rid(),
            class_id: stack.class_id.clone(),
            month: month.clone(),
            reason: "sửa sai".into(),
        };
        let token = token.to_owned();
        async move {
            client
                .reopen_month(with_token(request, &token))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_eq!(
        reopen(&stack.homeroom).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert!(!reopen(&stack.principal).await.unwrap().closed);
    correct(
        &stack,
        &stack.homeroom,
        correction(
            &stack,
            &today,
            &stack.students[0],
            AbsentExcused,
            "giấy phép",
        ),
    )
    .await
    .unwrap();
    let amended = close(&stack.principal).await.unwrap();
    assert_eq!(
        of(&amended, &stack.students[0]).absent_unexcused_sessions,
        0
    );
    assert_eq!(of(&amended, &stack.students[0]).absent_excused_sessions, 1);
    let closings: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT data FROM events WHERE event_type = 'MonthClosed' ORDER BY position",
    )
    .fetch_all(&stack.pool)
    .await
    .unwrap();
    assert_eq!(closings.len(), 2);
    assert_eq!(closings[0]["amended"], false);
    assert_eq!(closings[1]["amended"], true);
    let reopenings: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'MonthReopened'")
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(reopenings, 1);
}
