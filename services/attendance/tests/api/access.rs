//! Who may take and read roll calls.

use lienlac_proto::attendance::v1::AttendanceStatus::AbsentUnexcused;
use tonic::Code;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn only_the_homeroom_teacher_and_school_leaders_take_a_class_roll_call() {
    let stack = Stack::start().await;
    let today = stack.today();
    for (who, token) in [
        ("another class's homeroom teacher", &stack.other_homeroom),
        ("a guardian", &stack.guardian),
        ("another school's principal", &stack.other_school_principal),
    ] {
        let status = stack
            .submit(token, stack.submission(&today, vec![]))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{who}");
    }
    let anonymous = stack
        .submit("", stack.submission(&today, vec![]))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    stack
        .submit(&stack.principal, stack.submission(&today, vec![]))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guardian_reads_only_their_own_childs_mark() {
    let stack = Stack::start().await;
    let today = stack.today();
    stack
        .submit(
            &stack.homeroom,
            stack.submission(
                &today,
                vec![
                    mark(&stack.students[0], AbsentUnexcused),
                    mark(&stack.students[1], AbsentUnexcused),
                ],
            ),
        )
        .await
        .unwrap();
    let seen = stack.get(&stack.guardian, &today).await.unwrap();
    assert_eq!(seen.marks.len(), 1);
    assert_eq!(seen.marks[0].student_id, stack.students[0]);
    let other_school = stack
        .get(&stack.other_school_principal, &today)
        .await
        .unwrap_err();
    assert_eq!(other_school.code(), Code::PermissionDenied);
}
