//! Who reaches which conversation, table by table: every reading and writing RPC
//! of a class group, a school's staff group and a direct thread, for every persona
//! of the test school and of another school and district.

use kernel::testing::{request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use tonic::Code;

use crate::helpers::Stack;

/// What an RPC answered: allowed, or refused.
fn allowed<T>(answer: Result<T, tonic::Status>) -> bool {
    match answer {
        Ok(_) => true,
        Err(status) if status.code() == Code::PermissionDenied => false,
        Err(status) => panic!("unexpected answer {status:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_persona_reaches_the_conversations_it_belongs_to_and_no_other() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
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
        .into_inner()
        .id;
    let (class_group, staff_group) = (school.class_id.clone(), school.school_id.clone());

    // Per persona: the class group (read, post, mark read, export), the staff
    // group (read), the direct thread of the guardian and the homeroom teacher
    // (read, export).
    let personas: [(&str, &String, [bool; 7]); 9] = [
        (
            "homeroom teacher",
            &school.homeroom,
            [true, true, true, false, true, true, false],
        ),
        (
            "guardian",
            &school.guardian,
            [true, true, true, false, false, true, false],
        ),
        (
            "principal",
            &school.principal,
            [true, true, true, true, true, false, true],
        ),
        (
            "another class's teacher",
            &school.other_homeroom,
            [false, false, false, false, true, false, false],
        ),
        (
            "another school's principal",
            &school.other_school_principal,
            [false, false, false, false, false, false, false],
        ),
        // The district administrator is on the school's staff list in the test school.
        (
            "district administrator",
            &school.district_admin,
            [false, false, false, true, true, false, true],
        ),
        (
            "district viewer",
            &school.district_viewer,
            [false, false, false, false, false, false, false],
        ),
        (
            "another district's administrator",
            &school.other_district_admin,
            [false, false, false, false, false, false, false],
        ),
        (
            "operator",
            &school.operator,
            [false, false, false, false, false, false, false],
        ),
    ];
    for (who, token, expected) in personas {
        let list = |conversation: &str| {
            let mut client = stack.client();
            let request = with_token(
                pb::ListMessagesRequest {
                    conversation_id: conversation.to_owned(),
                    ..Default::default()
                },
                token,
            );
            async move { allowed(client.list_messages(request).await) }
        };
        let export = |conversation: &str| {
            let mut client = stack.client();
            let request = with_token(
                pb::ExportConversationRequest {
                    conversation_id: conversation.to_owned(),
                    reason: "kiểm tra".into(),
                },
                token,
            );
            async move { allowed(client.export_conversation(request).await) }
        };
        let got = [
            list(&class_group).await,
            allowed(
                client
                    .post_message(with_token(
                        pb::PostMessageRequest {
                            request_id: request_id(),
                            conversation_id: class_group.clone(),
                            body: format!("{who} chào lớp"),
                            reply_to: String::new(),
                            attachment_ids: Vec::new(),
                        },
                        token,
                    ))
                    .await,
            ),
            allowed(
                client
                    .mark_read(with_token(
                        pb::MarkReadRequest {
                            conversation_id: class_group.clone(),
                            seq: 1,
                        },
                        token,
                    ))
                    .await,
            ),
            export(&class_group).await,
            list(&staff_group).await,
            list(&thread).await,
            export(&thread).await,
        ];
        assert_eq!(
            got, expected,
            "{who}: [class read, class post, class mark read, class export, staff read, thread read, thread export]"
        );
    }
}
