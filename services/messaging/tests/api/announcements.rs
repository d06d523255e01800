//! Announcements: who announces to whom, which guardians an audience reaches,
//! scheduled ones, and the receipts the sender acts on.

use std::time::Duration;

use kernel::testing::{eventually, request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::Classification;
use lienlac_proto::messaging::v1::audience::Scope;
use tonic::Code;

use crate::helpers::{Stack, download, upload};

fn announce(scope: Scope, requires_ack: bool) -> pb::PublishAnnouncementRequest {
    pb::PublishAnnouncementRequest {
        request_id: request_id(),
        audience: Some(pb::Audience { scope: Some(scope) }),
        title: "Họp phụ huynh".into(),
        body: "Kính mời quý phụ huynh dự họp lúc 8 giờ thứ Bảy.".into(),
        requires_ack,
        scheduled_at: String::new(),
        attachment_ids: Vec::new(),
        classification: Classification::Unspecified as i32,
        emergency: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_announcement_reaches_its_audiences_guardians_and_counts_who_read_and_confirmed() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let guardian = stack.person(&school.guardian).await;
    // A second guardian in 1A1, and one in 1A2.
    let (classmate, classmate_token) = stack.guardian_of(&school.students[1]).await;
    let (in_other_class, other_class_token) = stack.guardian_of(&school.other_student).await;

    let to_school = Scope::SchoolId(school.school_id.clone());
    let to_class = Scope::ClassId(school.class_id.clone());
    let to_district = Scope::DistrictId(school.district_id.clone());
    let cases: [(&str, &String, Scope, Result<i64, Code>); 9] = [
        (
            "the principal to the school",
            &school.principal,
            to_school.clone(),
            Ok(3),
        ),
        (
            "the homeroom teacher to the class",
            &school.homeroom,
            to_class.clone(),
            Ok(2),
        ),
        (
            "the district to the district",
            &school.district_admin,
            to_district.clone(),
            Ok(3),
        ),
        (
            "the homeroom teacher to the school",
            &school.homeroom,
            to_school.clone(),
            Err(Code::PermissionDenied),
        ),
        (
            "another class's teacher to the class",
            &school.other_homeroom,
            to_class.clone(),
            Err(Code::PermissionDenied),
        ),
        (
            "another school's principal",
            &school.other_school_principal,
            to_school.clone(),
            Err(Code::PermissionDenied),
        ),
        (
            "a district viewer",
            &school.district_viewer,
            to_district.clone(),
            Err(Code::PermissionDenied),
        ),
        (
            "another district",
            &school.other_district_admin,
            to_district.clone(),
            Err(Code::PermissionDenied),
        ),
        (
            "a guardian",
            &school.guardian,
            to_class.clone(),
            Err(Code::PermissionDenied),
        ),
    ];
    let mut published = Vec::new();
    for (case, token, scope, expected) in cases {
        let answer = client
            .publish_announcement(with_token(announce(scope, true), token))
            .await;
        assert_eq!(
            answer
                .as_ref()
                .map(|a| a.get_ref().recipients)
                .map_err(|s| s.code()),
            expected,
            "{case}: {answer:?}"
        );
        if let Ok(announcement) = answer {
            published.push(announcement.into_inner());
        }
    }
    let (for_school, for_class) = (&published[0], &published[1]);
    // Chosen guardians of the school, and a grade.
    let chosen = client
        .publish_announcement(with_token(
            announce(
                Scope::Guardians(pb::ChosenGuardians {
                    school_id: school.school_id.clone(),
                    guardian_ids: vec![in_other_class.clone(), uuid::Uuid::now_v7().to_string()],
                }),
                false,
            ),
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        chosen.recipients, 1,
        "only guardians of the school's students"
    );
    // Even for the school's readers, whom it was sent to stays with its overseers.
    let widened = client
        .publish_announcement(with_token(
            pb::PublishAnnouncementRequest {
                classification: Classification::School as i32,
                ..announce(
                    Scope::Guardians(pb::ChosenGuardians {
                        school_id: school.school_id.clone(),
                        guardian_ids: vec![in_other_class.clone()],
                    }),
                    false,
                )
            },
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    let chosen_ids = |token: &String| {
        let mut client = client.clone();
        let request = with_token(
            pb::AnnouncementRef {
                announcement_id: widened.id.clone(),
            },
            token,
        );
        async move {
            match client
                .get_announcement(request)
                .await
                .unwrap()
                .into_inner()
                .audience
            {
                Some(pb::Audience {
                    scope: Some(Scope::Guardians(chosen)),
                }) => chosen.guardian_ids,
                other => panic!("not to chosen guardians: {other:?}"),
            }
        }
    };
    assert_eq!(
        chosen_ids(&school.principal).await,
        vec![in_other_class.clone()]
    );
    assert!(chosen_ids(&school.guardian).await.is_empty());
    assert!(chosen_ids(&school.homeroom).await.is_empty());
    let nobody = client
        .publish_announcement(with_token(
            announce(
                Scope::Guardians(pb::ChosenGuardians {
                    school_id: school.school_id.clone(),
                    guardian_ids: vec![],
                }),
                false,
            ),
            &school.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(nobody.code(), Code::InvalidArgument, "{nobody:?}");
    let graded = client
        .publish_announcement(with_token(
            announce(
                Scope::Grade(pb::GradeAudience {
                    school_id: school.school_id.clone(),
                    grade: 1,
                }),
                false,
            ),
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(graded.recipients, 3);
    // Scheduled for tomorrow: not shown yet.
    let mut later = announce(to_class.clone(), false);
    later.scheduled_at =
        kernel::dates::rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(1));
    let scheduled = client
        .publish_announcement(with_token(later, &school.homeroom))
        .await
        .unwrap()
        .into_inner();

    // The guardian's announcements: every one addressed to them and shown now,
    // newest first; listing delivers them.
    let mine = client
        .list_announcements(with_token(
            pb::ListAnnouncementsRequest::default(),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = mine
        .entries
        .iter()
        .map(|e| e.announcement.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec![
            graded.id.as_str(),
            published[2].id.as_str(),
            for_class.id.as_str(),
            for_school.id.as_str()
        ]
    );
    assert!(!ids.contains(&scheduled.id.as_str()) && !ids.contains(&chosen.id.as_str()));
    assert!(
        mine.entries
            .iter()
            .all(|e| !e.state.as_ref().unwrap().delivered_at.is_empty())
    );
    assert_eq!(
        mine.entries[3].announcement.as_ref().unwrap().title,
        "Họp phụ huynh"
    );

    // The principal's receipts: delivered to one, read by none; then read and
    // confirmed by the guardian; who has not confirmed.
    let reader = stack.client();
    let receipts = |token: &str, missing| {
        let mut client = reader.clone();
        let request = with_token(
            pb::GetAnnouncementReceiptsRequest {
                announcement_id: for_school.id.clone(),
                missing: missing as i32,
                ..Default::default()
            },
            token,
        );
        async move {
            client
                .get_announcement_receipts(request)
                .await
                .map(|r| r.into_inner())
        }
    };
    let before = receipts(&school.principal, pb::RecipientFilter::NotRead)
        .await
        .unwrap();
    assert_eq!(
        (
            before.recipients,
            before.delivered,
            before.read,
            before.acknowledged
        ),
        (3, 1, 0, 0)
    );
    assert_eq!(before.guardian_ids.len(), 3);
    let reference = |id: &str| pb::AnnouncementRef {
        announcement_id: id.to_owned(),
    };
    let state = client
        .acknowledge_announcement(with_token(reference(&for_school.id), &school.guardian))
        .await
        .unwrap()
        .into_inner();
    assert!(!state.read_at.is_empty() && !state.acknowledged_at.is_empty());
    client
        .mark_announcement_read(with_token(reference(&for_school.id), &classmate_token))
        .await
        .unwrap();
    let after = receipts(&school.principal, pb::RecipientFilter::NotAcknowledged)
        .await
        .unwrap();
    assert_eq!((after.delivered, after.read, after.acknowledged), (2, 2, 1));
    let mut not_confirmed = after.guardian_ids.clone();
    not_confirmed.sort();
    let mut expected = vec![classmate.clone(), in_other_class.clone()];
    expected.sort();
    assert_eq!(not_confirmed, expected);
    assert!(!after.guardian_ids.contains(&guardian));

    // Three guardians: too few for counts that would not say who read it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(reported(&stack.pool, &for_school.id).await.is_empty());
    assert!(
        receipts(&school.district_admin, pb::RecipientFilter::Unspecified)
            .await
            .is_ok()
    );
    for token in [
        &school.homeroom,
        &school.guardian,
        &school.other_school_principal,
    ] {
        let refused = receipts(token, pb::RecipientFilter::Unspecified)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }

    // Nothing to confirm where nothing was asked; nothing to read where one was
    // not addressed, or not yet shown.
    let refused = client
        .acknowledge_announcement(with_token(reference(&graded.id), &school.guardian))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    for (id, token) in [
        (&for_class.id, &other_class_token),
        (&scheduled.id, &school.guardian),
    ] {
        let refused = client
            .mark_announcement_read(with_token(reference(id), token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    }
}

/// The `ReceiptsUpdated` published for `announcement`, in order.
async fn reported(pool: &sqlx::PgPool, announcement: &str) -> Vec<serde_json::Value> {
    sqlx::query_scalar(
        "SELECT data FROM events WHERE event_type = 'ReceiptsUpdated' \
         AND data->>'announcement_id' = $1 ORDER BY position",
    )
    .bind(announcement)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn how_far_an_announcement_reached_is_published_as_counts_in_batches() {
    let stack = Stack::start().await;
    let school = &stack.school;
    for student in [
        &school.students[1],
        &school.students[2],
        &school.other_student,
        &school.students[0],
    ] {
        stack.guardian_of(student).await;
    }
    let announcement = stack
        .client()
        .publish_announcement(with_token(
            announce(Scope::SchoolId(school.school_id.clone()), true),
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(announcement.recipients, 5);
    stack
        .client()
        .acknowledge_announcement(with_token(
            pb::AnnouncementRef {
                announcement_id: announcement.id.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap();
    let published = eventually(
        "ReceiptsUpdated with the confirmation",
        Duration::from_secs(10),
        || {
            let (pool, id) = (stack.pool.clone(), announcement.id.clone());
            async move {
                let reported = reported(&pool, &id).await;
                let done = reported
                    .last()
                    .is_some_and(|last| last["acknowledged"] == 1);
                done.then_some(reported)
            }
        },
    )
    .await;
    let last = published.last().unwrap();
    let counts =
        ["recipients", "delivered", "read", "acknowledged"].map(|field| last[field].as_i64());
    assert_eq!(counts, [Some(5), Some(1), Some(1), Some(1)]);
    assert!(last.get("guardian_ids").is_none(), "counts, never who");
    // Nothing changes: nothing more is published.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        reported(&stack.pool, &announcement.id).await.len(),
        published.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn besides_its_recipients_each_persona_reads_the_announcements_their_classification_includes()
{
    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let (_, other_class_guardian) = stack.guardian_of(&school.other_student).await;
    let mut ids = Vec::new();
    let mut files = Vec::new();
    for classification in [
        Classification::Public,
        Classification::School,
        Classification::Class,
        Classification::Confidential,
    ] {
        let file = upload(&stack, &school.principal, &school.school_id, "don.pdf", PDF)
            .await
            .unwrap();
        let request = pb::PublishAnnouncementRequest {
            classification: classification as i32,
            attachment_ids: vec![file.id.clone()],
            ..announce(Scope::ClassId(school.class_id.clone()), false)
        };
        let published = client
            .publish_announcement(with_token(request, &school.principal))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(published.classification, classification as i32);
        ids.push(published.id);
        files.push(file.id);
    }
    let refused = client
        .publish_announcement(with_token(
            pb::PublishAnnouncementRequest {
                classification: Classification::Class as i32,
                ..announce(Scope::SchoolId(school.school_id.clone()), false)
            },
            &school.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    // [public, school, class, confidential], all to 1A1's guardians.
    let personas: [(&str, &String, [bool; 4]); 10] = [
        ("guardian in 1A1, a recipient", &school.guardian, [true; 4]),
        (
            "guardian in 1A2",
            &other_class_guardian,
            [true, true, false, false],
        ),
        (
            "homeroom teacher of 1A1",
            &school.homeroom,
            [true, true, true, false],
        ),
        (
            "homeroom teacher of 1A2",
            &school.other_homeroom,
            [true, true, false, false],
        ),
        ("principal, its sender", &school.principal, [true; 4]),
        (
            "district administrator, who sees receipts",
            &school.district_admin,
            [true; 4],
        ),
        (
            "district viewer",
            &school.district_viewer,
            [true, true, true, false],
        ),
        (
            "another school's principal",
            &school.other_school_principal,
            [false; 4],
        ),
        (
            "another district's administrator",
            &school.other_district_admin,
            [false; 4],
        ),
        ("operator", &school.operator, [false; 4]),
    ];
    for (who, token, expected) in personas {
        let mut reads = [false; 4];
        let mut downloads = [false; 4];
        for (i, (id, file)) in ids.iter().zip(&files).enumerate() {
            let request = pb::AnnouncementRef {
                announcement_id: id.clone(),
            };
            reads[i] = match client.get_announcement(with_token(request, token)).await {
                Ok(_) => true,
                Err(status) if status.code() == Code::PermissionDenied => false,
                Err(status) => panic!("{who}: {status:?}"),
            };
            downloads[i] = match download(&stack, token, file, false).await {
                Ok((_, bytes)) => bytes == PDF,
                Err(status) if status.code() == Code::PermissionDenied => false,
                Err(status) => panic!("{who}: {status:?}"),
            };
        }
        assert_eq!(
            reads, expected,
            "{who} reads [public, school, class, confidential]"
        );
        assert_eq!(downloads, expected, "{who} downloads as they read");
    }
}
