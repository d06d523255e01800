//! Class groups, direct threads and their messages: who is in which conversation,
//! who may write to whom, edits within 15 minutes with their history kept,
//! tombstones, unread counts, and what the bus carries.

use std::time::Duration;

use kernel::config::{ServiceId, stream_name_in};
use kernel::testing::{eventually, request_id, with_token};
use lienlac_proto::identity::v1 as id;
use lienlac_proto::messaging::v1 as pb;
use prost::Message as _;
use tonic::Code;

use crate::helpers::Stack;

fn post(conversation: &str, body: &str, reply_to: &str) -> pb::PostMessageRequest {
    pb::PostMessageRequest {
        request_id: request_id(),
        conversation_id: conversation.to_owned(),
        body: body.to_owned(),
        reply_to: reply_to.to_owned(),
        attachment_ids: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_class_group_holds_its_teacher_its_guardians_and_the_leaders_and_keeps_the_record() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let group = school.class_id.clone();
    let mut client = stack.client();

    let first = client
        .post_message(with_token(
            post(&group, "Chào các phụ huynh lớp 1A1", ""),
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.seq, 1);
    let reply = client
        .post_message(with_token(
            post(&group, "Cảm ơn cô", &first.id),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((reply.seq, reply.reply_to.as_str()), (2, first.id.as_str()));
    client
        .post_message(with_token(
            post(&group, "Nhà trường đã nhận", ""),
            &school.principal,
        ))
        .await
        .unwrap();

    // Who reads and writes the group: its teacher, its guardians, the school's
    // leaders; nobody of another class, school or district.
    for token in [&school.homeroom, &school.guardian, &school.principal] {
        let messages = client
            .list_messages(with_token(
                pb::ListMessagesRequest {
                    conversation_id: group.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .messages;
        let seqs: Vec<i64> = messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![3, 2, 1]);
        // Authors as identity shows them: staff by name, the guardian as their
        // child's parent, with no phone number.
        let names: Vec<&str> = messages
            .iter()
            .map(|m| m.author_display_name.as_str())
            .collect();
        assert!(
            names[1].starts_with("Phụ huynh em ") && !names[1].contains("09"),
            "{names:?}"
        );
        assert!(
            !names[0].is_empty() && !names[2].is_empty() && !names[2].starts_with("Phụ huynh"),
            "{names:?}"
        );
        let staff: Vec<bool> = messages.iter().map(|m| m.author_is_staff).collect();
        assert_eq!(
            staff,
            vec![true, false, true],
            "the principal, the guardian, the teacher"
        );
    }
    for token in [
        &school.other_homeroom,
        &school.other_school_principal,
        &school.other_district_admin,
        &school.district_viewer,
        &school.operator,
    ] {
        let read = client
            .list_messages(with_token(
                pb::ListMessagesRequest {
                    conversation_id: group.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(read.code(), Code::PermissionDenied, "{read:?}");
        let wrote = client
            .post_message(with_token(post(&group, "xin chào", ""), token))
            .await
            .unwrap_err();
        assert_eq!(wrote.code(), Code::PermissionDenied, "{wrote:?}");
    }

    // The guardian's inbox: the class group, one message unread (their own reply
    // counts as read); read it, mute it.
    let inbox = client
        .list_inbox(with_token(
            pb::ListInboxRequest::default(),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    let entry = inbox
        .entries
        .iter()
        .find(|entry| entry.conversation.as_ref().unwrap().id == group)
        .unwrap();
    assert_eq!(entry.state.as_ref().unwrap().unread, 1);
    let state = client
        .mark_read(with_token(
            pb::MarkReadRequest {
                conversation_id: group.clone(),
                seq: 99,
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((state.read_seq, state.unread), (3, 0));
    let state = client
        .mute_conversation(with_token(
            pb::MuteConversationRequest {
                conversation_id: group.clone(),
                muted: true,
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(state.muted && state.read_seq == 3);

    // Edits by the author keep the earlier text; deletions leave a tombstone, by
    // the author or a leader only.
    let edit = |message: &str, body: &str| pb::EditMessageRequest {
        request_id: request_id(),
        message_id: message.to_owned(),
        body: body.to_owned(),
    };
    let edited = client
        .edit_message(with_token(
            edit(&first.id, "Chào các phụ huynh lớp 1A1!"),
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!edited.edited_at.is_empty());
    let refused = client
        .edit_message(with_token(edit(&first.id, "sửa"), &school.principal))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let previous: String =
        sqlx::query_scalar("SELECT previous_body FROM message_edits WHERE message_id = $1::uuid")
            .bind(&first.id)
            .fetch_one(&stack.pool)
            .await
            .unwrap();
    assert_eq!(previous, "Chào các phụ huynh lớp 1A1");
    let delete = |message: &str| pb::DeleteMessageRequest {
        request_id: request_id(),
        message_id: message.to_owned(),
    };
    let refused = client
        .delete_message(with_token(delete(&first.id), &school.guardian))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let tombstone = client
        .delete_message(with_token(delete(&reply.id), &school.principal))
        .await
        .unwrap()
        .into_inner();
    assert!(tombstone.body.is_empty() && !tombstone.deleted_at.is_empty());
    let kept: String = sqlx::query_scalar("SELECT body FROM messages WHERE id = $1::uuid")
        .bind(&reply.id)
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(kept, "Cảm ơn cô", "the school keeps the record");
    let again = client
        .delete_message(with_token(delete(&reply.id), &school.principal))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    // The bus carries ids, never the text.
    let jetstream = stack.world.jetstream().await;
    let stream = jetstream
        .get_stream(stream_name_in(&stack.world.namespace, ServiceId::MESSAGING))
        .await
        .unwrap();
    let posted = eventually("the messages published", Duration::from_secs(10), || {
        let stream = stream.clone();
        async move {
            let mut found = Vec::new();
            for sequence in 1..=20 {
                let Ok(message) = stream.get_raw_message(sequence).await else {
                    break;
                };
                assert!(!String::from_utf8_lossy(&message.payload).contains("phụ huynh"));
                if message.subject.ends_with(".MessagePosted") {
                    found.push(pb::MessagePosted::decode(message.payload).unwrap());
                }
            }
            (found.len() == 3).then_some(found)
        }
    })
    .await;
    assert!(posted.iter().all(|event| event.conversation_id == group
        && event.kind == pb::ConversationKind::Class as i32
        && event.school_id == school.school_id));

    // For a complaint, the principal exports the group's whole record, deleted
    // and edited texts included; the export is recorded. Nobody else may.
    let export = |token: &str, reason: &str| {
        let mut client = stack.client();
        let request = with_token(
            pb::ExportConversationRequest {
                conversation_id: group.clone(),
                reason: reason.to_owned(),
            },
            token,
        );
        async move {
            client
                .export_conversation(request)
                .await
                .map(|r| r.into_inner())
        }
    };
    let record = export(&school.principal, "Khiếu nại của phụ huynh")
        .await
        .unwrap();
    let document: serde_json::Value = serde_json::from_str(&record.document_json).unwrap();
    let messages = document["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0]["edits"][0]["previous_body"],
        "Chào các phụ huynh lớp 1A1"
    );
    assert_eq!(messages[1]["body"], "Cảm ơn cô");
    assert!(messages[1]["deleted_at"].is_string());
    let exports: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM conversation_exports WHERE conversation_id = $1::uuid AND reason = 'Khiếu nại của phụ huynh'",
    )
    .bind(&group)
    .fetch_one(&stack.pool)
    .await
    .unwrap();
    assert_eq!(exports, 1);
    for token in [
        &school.homeroom,
        &school.guardian,
        &school.other_school_principal,
    ] {
        let refused = export(token, "xem").await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }
    let refused = export(&school.principal, " ").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);

    // A guardian whose child leaves the class leaves its group.
    school
        .identity
        .call(
            id::WithdrawStudentRequest {
                request_id: request_id(),
                student_id: school.students[0].clone(),
                reason: "Chuyển trường".into(),
                ..Default::default()
            },
            |mut c, r| async move { c.withdraw_student(r).await },
        )
        .await;
    eventually(
        "the guardian out of the group",
        Duration::from_secs(10),
        || {
            let mut client = client.clone();
            let request = with_token(post(&group, "còn ở lớp không?", ""), &school.guardian);
            async move {
                let refused = client.post_message(request).await.err()?;
                (refused.code() == Code::PermissionDenied).then_some(())
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_threads_join_a_guardian_with_the_childs_teacher_or_leaders_and_staff_with_colleagues()
 {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let homeroom = stack.person(&school.homeroom).await;
    let principal = stack.person(&school.principal).await;
    let other_homeroom = stack.person(&school.other_homeroom).await;
    let other_principal = stack.person(&school.other_school_principal).await;
    let guardian = stack.person(&school.guardian).await;
    // A second guardian, of another child of the class.
    let other_guardian = school
        .identity
        .call(
            id::RegisterGuardianRequest {
                request_id: request_id(),
                school_id: school.school_id.clone(),
                full_name: "Trần Thị Lan".into(),
                phone: "0987000111".into(),
                ..Default::default()
            },
            |mut c, r| async move { c.register_guardian(r).await },
        )
        .await
        .id;
    school
        .identity
        .call(
            id::LinkGuardianRequest {
                request_id: request_id(),
                guardian_id: other_guardian.clone(),
                student_id: school.students[1].clone(),
                relation: id::Relation::Mother as i32,
            },
            |mut c, r| async move { c.link_guardian(r).await },
        )
        .await;
    let linked = stack.pool.clone();
    eventually(
        "messaging knows the second guardian",
        Duration::from_secs(10),
        || {
            let pool = linked.clone();
            let guardian = other_guardian.clone();
            async move {
                let known: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM guardianships WHERE guardian_id = $1::uuid)",
                )
                .bind(guardian)
                .fetch_one(&pool)
                .await
                .ok()?;
                known.then_some(())
            }
        },
    )
    .await;

    let start = |person: &str| pb::StartDirectThreadRequest {
        request_id: request_id(),
        person_id: person.to_owned(),
    };
    let cases: [(&str, &String, &String, Result<(), Code>); 9] = [
        (
            "a guardian to the child's homeroom teacher",
            &school.guardian,
            &homeroom,
            Ok(()),
        ),
        (
            "a guardian to the child's principal",
            &school.guardian,
            &principal,
            Ok(()),
        ),
        (
            "a homeroom teacher to a guardian of the class",
            &school.homeroom,
            &other_guardian,
            Ok(()),
        ),
        ("colleagues", &school.homeroom, &other_homeroom, Ok(())),
        (
            "a guardian to another class's teacher",
            &school.guardian,
            &other_homeroom,
            Err(Code::PermissionDenied),
        ),
        (
            "a guardian to another guardian",
            &school.guardian,
            &other_guardian,
            Err(Code::PermissionDenied),
        ),
        (
            "staff of another school",
            &school.homeroom,
            &other_principal,
            Err(Code::PermissionDenied),
        ),
        (
            "another class's teacher to a guardian",
            &school.other_homeroom,
            &guardian,
            Err(Code::PermissionDenied),
        ),
        (
            "oneself",
            &school.guardian,
            &guardian,
            Err(Code::InvalidArgument),
        ),
    ];
    let mut threads = Vec::new();
    for (case, token, person, expected) in cases {
        let answer = client
            .start_direct_thread(with_token(start(person), token))
            .await;
        assert_eq!(
            answer.as_ref().map(|_| ()).map_err(|status| status.code()),
            expected,
            "{case}: {answer:?}"
        );
        if let Ok(thread) = answer {
            threads.push(thread.into_inner());
        }
    }
    let with_teacher = &threads[0];
    assert_eq!(with_teacher.kind, pb::ConversationKind::Direct as i32);
    assert_eq!(with_teacher.school_id, school.school_id);
    let mut people = with_teacher.participant_ids.clone();
    people.sort();
    let mut expected = vec![guardian.clone(), homeroom.clone()];
    expected.sort();
    assert_eq!(people, expected);

    // The same two people have one thread, whoever starts it.
    let again = client
        .start_direct_thread(with_token(start(&guardian), &school.homeroom))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, with_teacher.id);

    // Only its two people read it.
    client
        .post_message(with_token(
            post(&with_teacher.id, "Cháu bị sốt, xin cô cho nghỉ", ""),
            &school.guardian,
        ))
        .await
        .unwrap();
    for token in [&school.principal, &school.other_homeroom] {
        let refused = client
            .list_messages(with_token(
                pb::ListMessagesRequest {
                    conversation_id: with_teacher.id.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let inbox = client
        .list_inbox(with_token(
            pb::ListInboxRequest {
                limit: 1,
                ..Default::default()
            },
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    let newest = inbox.entries[0].clone();
    assert_eq!(
        newest.conversation.unwrap().id,
        with_teacher.id,
        "the latest active first"
    );
    assert_eq!(newest.state.unwrap().unread, 1);
    assert!(!inbox.next_cursor.is_empty());
    let mut seen = vec![with_teacher.id.clone()];
    let mut cursor = inbox.next_cursor;
    while !cursor.is_empty() {
        let page = client
            .list_inbox(with_token(
                pb::ListInboxRequest {
                    cursor: cursor.clone(),
                    limit: 1,
                },
                &school.homeroom,
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(
            page.entries
                .iter()
                .map(|e| e.conversation.as_ref().unwrap().id.clone()),
        );
        cursor = page.next_cursor;
    }
    // The direct threads with the guardian, the other guardian and the colleague,
    // the class group and the school's staff group, each once.
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "{seen:?}");
    assert!(seen.contains(&school.class_id) && seen.contains(&school.school_id));
    assert_eq!(seen.len(), 5, "{seen:?}");
}
