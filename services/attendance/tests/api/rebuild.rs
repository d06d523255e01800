//! The write model is what attendance's events say: after every kind of command,
//! the tables rebuilt from the event store equal the tables the commands wrote.

use kernel::config::ServiceId;
use lienlac_proto::attendance::v1 as pb;
use pb::AttendanceStatus::{AbsentExcused, AbsentUnexcused, Late, Present};
use sqlx::PgPool;

use crate::helpers::{Stack, mark, rid, with_token};

const TABLES: [&str; 5] = ["marks", "roll_calls", "months", "closures", "leaves"];

/// Every row of every write-model table, as JSON in a stable order.
async fn snapshot(pool: &PgPool) -> Vec<(String, serde_json::Value)> {
    let mut tables = Vec::new();
    for table in TABLES {
        let rows: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]') FROM {table} t"
        )))
        .fetch_one(pool)
        .await
        .unwrap();
        tables.push((table.to_owned(), rows));
    }
    tables
}

async fn rebuild(stack: &Stack, token: &str) -> Result<pb::WriteModelRebuilt, tonic::Status> {
    stack
        .attendance
        .clone()
        .rebuild_write_model(with_token(pb::RebuildWriteModelRequest {}, token))
        .await
        .map(tonic::Response::into_inner)
}

/// Roll calls taken, taken again and corrected; a leave approved after the fact
/// and one rejected; a closure; a month closed, reopened and closed again.
async fn a_month_of_school(stack: &Stack) {
    let [first, second, third] = [0, 1, 2].map(|i| stack.students[i].clone());
    let yesterday = stack.days_ago(1);
    let today = stack.today();
    let mut late = mark(&second, Late);
    late.note = "Xe buýt trễ".into();
    stack
        .submit(
            &stack.homeroom,
            stack.submission(&yesterday, vec![mark(&first, AbsentUnexcused), late]),
        )
        .await
        .unwrap();
    stack
        .submit(
            &stack.homeroom,
            stack.submission(&today, vec![mark(&third, AbsentUnexcused)]),
        )
        .await
        .unwrap();
    // Taken again: two marks change in one command.
    stack
        .submit(
            &stack.homeroom,
            stack.submission(&today, vec![mark(&first, Late), mark(&third, Present)]),
        )
        .await
        .unwrap();
    stack
        .attendance
        .clone()
        .correct_mark(with_token(
            pb::CorrectMarkRequest {
                request_id: rid(),
                class_id: stack.class_id.clone(),
                date: today.clone(),
                session: pb::Session::Morning as i32,
                student_id: second.clone(),
                status: AbsentExcused as i32,
                reason: "Phụ huynh gọi điện".into(),
                note: "Đi khám răng".into(),
            },
            &stack.principal,
        ))
        .await
        .unwrap();
    let approved = stack
        .request_leave(&stack.guardian, &first, &yesterday, &today)
        .await
        .unwrap();
    stack
        .decide_leave(&stack.homeroom, &approved.id, true)
        .await
        .unwrap();
    let rejected = stack
        .request_leave(&stack.homeroom, &third, &today, &today)
        .await
        .unwrap();
    stack
        .decide_leave(&stack.principal, &rejected.id, false)
        .await
        .unwrap();
    stack
        .attendance
        .clone()
        .declare_closure(with_token(
            pb::DeclareClosureRequest {
                request_id: rid(),
                school_id: stack.school_id.clone(),
                from_date: lienlac_test_support::days_ago(-2),
                to_date: lienlac_test_support::days_ago(-4),
                reason: "Nghỉ bão".into(),
            },
            &stack.principal,
        ))
        .await
        .unwrap();
    let month = today[..7].to_owned();
    close_month(stack, &month, &stack.homeroom).await;
    stack
        .attendance
        .clone()
        .reopen_month(with_token(
            pb::ReopenMonthRequest {
                request_id: rid(),
                class_id: stack.class_id.clone(),
                month: month.clone(),
                reason: "Sửa điểm danh".into(),
            },
            &stack.principal,
        ))
        .await
        .unwrap();
    close_month(stack, &month, &stack.principal).await;
}

async fn close_month(stack: &Stack, month: &str, token: &str) {
    stack
        .attendance
        .clone()
        .close_month(with_token(
            pb::CloseMonthRequest {
                request_id: rid(),
                class_id: stack.class_id.clone(),
                month: month.to_owned(),
            },
            token,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_write_model_rebuilt_from_the_events_equals_the_one_the_commands_wrote() {
    let stack = Stack::start().await;
    a_month_of_school(&stack).await;
    let written = snapshot(&stack.pool).await;
    for (table, rows) in &written {
        assert!(
            rows.as_array().is_some_and(|rows| !rows.is_empty()),
            "{table} has rows"
        );
    }

    let answered = stack.get(&stack.homeroom, &stack.today()).await.unwrap();

    // Rows that drifted from the events are put back as the events say.
    let mut admin = stack.world.admin().await;
    let schema = stack.world.config(ServiceId::ATTENDANCE).schema;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {schema}.marks WHERE student_id = '{}'; UPDATE {schema}.months SET closed = false",
        stack.students[0]
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    assert_ne!(snapshot(&stack.pool).await, written);

    let denied = rebuild(&stack, &stack.principal).await.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let rebuilt = rebuild(&stack, &stack.operator).await.unwrap();
    assert!(rebuilt.events >= 12, "read {} events", rebuilt.events);
    assert_eq!(rebuilt.tables, TABLES);
    let after = snapshot(&stack.pool).await;
    for ((table, before), (_, after)) in written.iter().zip(&after) {
        assert_eq!(before, after, "{table} rebuilt from its events");
    }

    // An event recorded without a field its projection needs is named, and the
    // rebuild leaves the tables as they were.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "UPDATE {schema}.events SET data = data - 'reason' WHERE event_type = 'LeaveRequested'"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let refused = rebuild(&stack, &stack.operator).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("LeaveRequested"), "{refused:?}");
    assert!(refused.message().contains("reason was kept"), "{refused:?}");
    assert_eq!(snapshot(&stack.pool).await, after);

    // And the service answers from the rebuilt tables as before: the same roll
    // call, and the month closed again.
    assert_eq!(
        stack.get(&stack.homeroom, &stack.today()).await.unwrap(),
        answered
    );
    let refused = stack
        .submit(&stack.homeroom, stack.submission(&stack.today(), vec![]))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
}
