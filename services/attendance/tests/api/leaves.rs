//! Leave requests: who may ask and decide, and how an approved leave excuses the
//! sessions it covers, before and after the roll call.

use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::AttendanceStatus::{AbsentExcused, AbsentUnexcused};
use tonic::Code;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_leave_excuses_the_roll_call_still_to_be_taken() {
    let stack = Stack::start().await;
    let today = stack.today();
    let child = &stack.students[0];
    let leave = stack
        .request_leave(&stack.guardian, child, &today, &today)
        .await
        .unwrap();
    assert_eq!(leave.status, pb::LeaveStatus::Pending as i32);
    let approved = stack
        .decide_leave(&stack.homeroom, &leave.id, true)
        .await
        .unwrap();
    assert_eq!(approved.status, pb::LeaveStatus::Approved as i32);
    let roll_call = stack
        .submit(&stack.homeroom, stack.submission(&today, vec![]))
        .await
        .unwrap();
    let mark = roll_call
        .marks
        .iter()
        .find(|m| &m.student_id == child)
        .unwrap();
    assert_eq!(mark.status, AbsentExcused as i32);
    assert_eq!(
        mark.leave_id, leave.id,
        "still visible as coming from the leave"
    );
    assert_eq!(
        stack.events(&today).await,
        vec!["RollCallSubmitted", "StudentAbsenceRecorded"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn approving_a_leave_corrects_a_roll_call_already_taken() {
    let stack = Stack::start().await;
    let today = stack.today();
    let child = &stack.students[0];
    stack
        .submit(
            &stack.homeroom,
            stack.submission(&today, vec![mark(child, AbsentUnexcused)]),
        )
        .await
        .unwrap();
    let leave = stack
        .request_leave(&stack.guardian, child, &today, &today)
        .await
        .unwrap();
    stack
        .decide_leave(&stack.principal, &leave.id, true)
        .await
        .unwrap();
    let roll_call = stack.get(&stack.homeroom, &today).await.unwrap();
    let mark = roll_call
        .marks
        .iter()
        .find(|m| &m.student_id == child)
        .unwrap();
    assert_eq!(mark.status, AbsentExcused as i32);
    assert_eq!(
        stack.events(&today).await,
        vec![
            "RollCallSubmitted",
            "StudentAbsenceRecorded",
            "MarkCorrected"
        ]
    );
    let reason: String =
        sqlx::query_scalar("SELECT data->>'reason' FROM events WHERE event_type = 'MarkCorrected'")
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(reason, "leave approved");
    let again = stack
        .decide_leave(&stack.principal, &leave.id, false)
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_guardians_and_the_homeroom_teacher_ask_and_only_teachers_decide() {
    let stack = Stack::start().await;
    let today = stack.today();
    let not_my_child = stack
        .request_leave(&stack.guardian, &stack.students[1], &today, &today)
        .await
        .unwrap_err();
    assert_eq!(not_my_child.code(), Code::PermissionDenied);
    let other_class = stack
        .request_leave(&stack.other_homeroom, &stack.students[0], &today, &today)
        .await
        .unwrap_err();
    assert_eq!(other_class.code(), Code::PermissionDenied);
    let by_teacher = stack
        .request_leave(&stack.homeroom, &stack.students[1], &today, &today)
        .await
        .unwrap();
    let leave = stack
        .request_leave(&stack.guardian, &stack.students[0], &today, &today)
        .await
        .unwrap();
    let self_approved = stack
        .decide_leave(&stack.guardian, &leave.id, true)
        .await
        .unwrap_err();
    assert_eq!(self_approved.code(), Code::PermissionDenied);
    let elsewhere = stack
        .decide_leave(&stack.other_school_principal, &leave.id, true)
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::PermissionDenied);

    let list = |token: String, request: pb::ListLeaveRequestsRequest| {
        let mut client = stack.attendance.clone();
        async move {
            client
                .list_leave_requests(with_token(request, &token))
                .await
                .map(|r| r.into_inner().leave_requests)
        }
    };
    let class_list = list(
        stack.homeroom.clone(),
        pb::ListLeaveRequestsRequest {
            class_id: stack.class_id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(class_list.len(), 2);
    let pending = list(
        stack.homeroom.clone(),
        pb::ListLeaveRequestsRequest {
            class_id: stack.class_id.clone(),
            status: pb::LeaveStatus::Pending as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(pending.len(), 2);
    let own = list(
        stack.guardian.clone(),
        pb::ListLeaveRequestsRequest {
            student_id: stack.students[0].clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        own.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
        vec![leave.id.clone()]
    );
    let guardian_class = list(
        stack.guardian.clone(),
        pb::ListLeaveRequestsRequest {
            class_id: stack.class_id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(guardian_class.code(), Code::PermissionDenied);
    let other_child = list(
        stack.guardian.clone(),
        pb::ListLeaveRequestsRequest {
            student_id: stack.students[1].clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(other_child.code(), Code::PermissionDenied);
    assert!(by_teacher.reason.contains("sốt"));
}
