//! The write model is what messaging's events say: after messages, a reply, an
//! edit, a deletion, a direct thread, an announcement, a school's policy and a
//! post rejected then approved and a menu, the tables rebuilt from
//! the event store equal the ones the commands wrote.

use kernel::testing::{request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::audience::Scope;
use sqlx::PgPool;
use tonic::Code;

use crate::helpers::Stack;

const TABLES: [&str; 9] = [
    "bulletins",
    "post_decisions",
    "posts",
    "school_policies",
    "announcements",
    "message_edits",
    "messages",
    "conversation_heads",
    "direct_threads",
];

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

#[tokio::test(flavor = "multi_thread")]
async fn the_tables_rebuilt_from_the_events_equal_the_ones_the_commands_wrote() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let post = |conversation: &str, body: &str, reply_to: &str| pb::PostMessageRequest {
        request_id: request_id(),
        conversation_id: conversation.to_owned(),
        body: body.to_owned(),
        reply_to: reply_to.to_owned(),
        attachment_ids: Vec::new(),
    };
    let first = client
        .post_message(with_token(
            post(&school.class_id, "Chào cả lớp", ""),
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    let reply = client
        .post_message(with_token(
            post(&school.class_id, "Dạ", &first.id),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    client
        .edit_message(with_token(
            pb::EditMessageRequest {
                request_id: request_id(),
                message_id: first.id.clone(),
                body: "Chào cả lớp 1A1".into(),
            },
            &school.homeroom,
        ))
        .await
        .unwrap();
    client
        .delete_message(with_token(
            pb::DeleteMessageRequest {
                request_id: request_id(),
                message_id: reply.id.clone(),
            },
            &school.principal,
        ))
        .await
        .unwrap();
    let homeroom = stack.person(&school.homeroom).await;
    let thread = client
        .start_direct_thread(with_token(
            pb::StartDirectThreadRequest {
                request_id: request_id(),
                person_id: homeroom,
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    client
        .post_message(with_token(
            post(&thread.id, "Thưa cô", ""),
            &school.guardian,
        ))
        .await
        .unwrap();
    client
        .publish_announcement(with_token(
            pb::PublishAnnouncementRequest {
                request_id: request_id(),
                audience: Some(pb::Audience {
                    scope: Some(Scope::SchoolId(school.school_id.clone())),
                }),
                title: "Nghỉ lễ".into(),
                body: "Trường nghỉ ngày 2/9.".into(),
                requires_ack: false,
                scheduled_at: String::new(),
                attachment_ids: Vec::new(),
                ..Default::default()
            },
            &school.principal,
        ))
        .await
        .unwrap();
    client
        .set_school_policy(with_token(
            pb::SetSchoolPolicyRequest {
                request_id: request_id(),
                policy: Some(pb::SchoolPolicy {
                    school_id: school.school_id.clone(),
                    allowed: vec![pb::Classification::School as i32],
                    default_classification: pb::Classification::School as i32,
                    public_feed: true,
                    ..Default::default()
                }),
            },
            &school.principal,
        ))
        .await
        .unwrap();
    let news = client
        .submit_post(with_token(
            pb::SubmitPostRequest {
                request_id: request_id(),
                school_id: school.school_id.clone(),
                title: "Hội khỏe Phù Đổng".into(),
                body: "Kết quả hội thao của trường.".into(),
                ..Default::default()
            },
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    for (revision, approve, reason) in [(1, false, "Thiếu ảnh"), (1, true, "")] {
        if approve {
            client
                .edit_post(with_token(
                    pb::EditPostRequest {
                        request_id: request_id(),
                        post_id: news.id.clone(),
                        title: "Hội khỏe Phù Đổng 2026".into(),
                        body: "Kết quả hội thao của trường, kèm ảnh.".into(),
                        ..Default::default()
                    },
                    &school.homeroom,
                ))
                .await
                .unwrap();
        }
        client
            .moderate_post(with_token(
                pb::ModeratePostRequest {
                    request_id: request_id(),
                    post_id: news.id.clone(),
                    revision: revision + i32::from(approve),
                    approve,
                    reason: reason.into(),
                },
                &school.principal,
            ))
            .await
            .unwrap();
    }
    client
        .publish_menu(with_token(
            pb::PublishMenuRequest {
                request_id: request_id(),
                school_id: school.school_id.clone(),
                effective_from: lienlac_test_support::today(),
                classification: pb::Classification::School as i32,
                menu: Some(pb::Menu {
                    days: vec![pb::MenuDay {
                        day: 1,
                        meals: vec![pb::Meal {
                            name: "Bữa trưa".into(),
                            dishes: vec!["Cơm gà".into()],
                            allergens: Vec::new(),
                        }],
                    }],
                }),
            },
            &school.principal,
        ))
        .await
        .unwrap();
    let written = snapshot(&stack.pool).await;
    assert!(
        written
            .iter()
            .all(|(_, rows)| !rows.as_array().unwrap().is_empty())
    );

    let refused = client
        .rebuild_write_model(with_token(
            pb::RebuildWriteModelRequest {},
            &school.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    sqlx::query("UPDATE messages SET body = 'drifted'")
        .execute(&stack.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE posts SET published_body = 'drifted'")
        .execute(&stack.pool)
        .await
        .unwrap();
    let rebuilt = client
        .rebuild_write_model(with_token(
            pb::RebuildWriteModelRequest {},
            &school.operator,
        ))
        .await
        .unwrap()
        .into_inner();
    // 7 of conversations and the announcement, the policy, two revisions and two
    // decisions, the menu and the announcement that told of it.
    assert_eq!(rebuilt.events, 14);
    assert_eq!(snapshot(&stack.pool).await, written);
}
