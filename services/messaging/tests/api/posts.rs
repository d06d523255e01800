//! Posts: the moderation queue and its decisions, the school's policy (trusted
//! staff, assigned moderators, allowed classifications, the public feed), and who
//! reads a post of each classification.

use kernel::testing::{request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::{Classification, PostStatus};
use tonic::Code;

use crate::helpers::{Stack, download, upload};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

fn to_class(class_id: &str, classification: Classification) -> pb::SubmitPostRequest {
    pb::SubmitPostRequest {
        request_id: request_id(),
        class_id: class_id.to_owned(),
        title: "Lớp em đi tham quan".into(),
        body: "Chiều nay lớp 1A1 tham quan Thảo Cầm Viên.\nCác em rất vui.".into(),
        classification: classification as i32,
        ..Default::default()
    }
}

async fn submit(stack: &Stack, token: &str, request: pb::SubmitPostRequest) -> pb::Post {
    stack
        .client()
        .submit_post(with_token(request, token))
        .await
        .unwrap()
        .into_inner()
}

async fn moderate(
    stack: &Stack,
    token: &str,
    post: &str,
    revision: i32,
    approve: bool,
    reason: &str,
) -> Result<pb::Post, tonic::Status> {
    stack
        .client()
        .moderate_post(with_token(
            pb::ModeratePostRequest {
                request_id: request_id(),
                post_id: post.to_owned(),
                revision,
                approve,
                reason: reason.into(),
            },
            token,
        ))
        .await
        .map(|post| post.into_inner())
}

async fn get(stack: &Stack, token: &str, post: &str) -> Result<pb::Post, tonic::Status> {
    stack
        .client()
        .get_post(with_token(
            pb::GetPostRequest {
                post_id: post.to_owned(),
            },
            token,
        ))
        .await
        .map(|post| post.into_inner())
}

async fn listed(stack: &Stack, token: &str, school: &str) -> Vec<String> {
    listed_with_files(stack, token, school)
        .await
        .into_iter()
        .map(|(post, _)| post)
        .collect()
}

/// The published posts `token` lists, each with its files' ids.
async fn listed_with_files(stack: &Stack, token: &str, school: &str) -> Vec<(String, Vec<String>)> {
    stack
        .client()
        .list_posts(with_token(
            pb::ListPostsRequest {
                school_id: school.to_owned(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .posts
        .into_iter()
        .map(|post| {
            (
                post.id,
                post.attachments.into_iter().map(|a| a.id).collect(),
            )
        })
        .collect()
}

async fn set_policy(
    stack: &Stack,
    token: &str,
    policy: pb::SchoolPolicy,
) -> Result<pb::SchoolPolicy, tonic::Status> {
    stack
        .client()
        .set_school_policy(with_token(
            pb::SetSchoolPolicyRequest {
                request_id: request_id(),
                policy: Some(policy),
            },
            token,
        ))
        .await
        .map(|policy| policy.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_teachers_post_reaches_guardians_only_once_a_moderator_approves_the_revision_they_read() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let (_, other_class_guardian) = stack.guardian_of(&school.other_student).await;

    let post = submit(
        &stack,
        &school.homeroom,
        to_class(&school.class_id, Classification::Class),
    )
    .await;
    assert_eq!(post.status, PostStatus::Pending as i32);
    assert!(post.published.is_none());
    let id = post.id.clone();
    assert_eq!(
        get(&stack, &school.guardian, &id).await.unwrap_err().code(),
        Code::PermissionDenied,
        "a pending post is not for guardians"
    );
    assert!(
        listed(&stack, &school.guardian, &school.school_id)
            .await
            .is_empty()
    );

    let queue = stack
        .client()
        .list_moderation_queue(with_token(
            pb::ListModerationQueueRequest {
                school_id: school.school_id.clone(),
                ..Default::default()
            },
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(queue.posts.len(), 1);
    assert_eq!(queue.posts[0].latest.as_ref().unwrap().revision, 1);
    let teacher_queue = stack
        .client()
        .list_moderation_queue(with_token(
            pb::ListModerationQueueRequest {
                school_id: school.school_id.clone(),
                ..Default::default()
            },
            &school.homeroom,
        ))
        .await;
    assert_eq!(teacher_queue.unwrap_err().code(), Code::PermissionDenied);

    let no_reason = moderate(&stack, &school.principal, &id, 1, false, "").await;
    assert_eq!(no_reason.unwrap_err().code(), Code::InvalidArgument);
    let by_author = moderate(&stack, &school.homeroom, &id, 1, true, "").await;
    assert_eq!(by_author.unwrap_err().code(), Code::PermissionDenied);
    let rejected = moderate(
        &stack,
        &school.principal,
        &id,
        1,
        false,
        "Ảnh có mặt học sinh chưa được phụ huynh đồng ý",
    )
    .await
    .unwrap();
    assert_eq!(rejected.status, PostStatus::Rejected as i32);
    let again = moderate(&stack, &school.principal, &id, 1, true, "").await;
    assert_eq!(again.unwrap_err().code(), Code::FailedPrecondition);

    let edit = |title: &str| pb::EditPostRequest {
        request_id: request_id(),
        post_id: id.clone(),
        title: title.into(),
        body: "Chiều nay lớp 1A1 tham quan Thảo Cầm Viên.".into(),
        classification: Classification::Class as i32,
        recipient_ids: Vec::new(),
        attachment_ids: Vec::new(),
    };
    let by_other = stack
        .client()
        .edit_post(with_token(edit("Sửa"), &school.other_homeroom))
        .await;
    assert_eq!(by_other.unwrap_err().code(), Code::PermissionDenied);
    let edited = stack
        .client()
        .edit_post(with_token(
            edit("Tham quan Thảo Cầm Viên"),
            &school.homeroom,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(edited.status, PostStatus::Pending as i32);
    assert_eq!(edited.latest.as_ref().unwrap().revision, 2);
    let stale = moderate(&stack, &school.principal, &id, 1, true, "").await;
    assert_eq!(
        stale.unwrap_err().code(),
        Code::Aborted,
        "approving what the author has since changed"
    );
    moderate(&stack, &school.principal, &id, 2, true, "")
        .await
        .unwrap();

    let seen = get(&stack, &school.guardian, &id).await.unwrap();
    let published = seen.published.as_ref().unwrap();
    assert_eq!(
        (published.revision, published.title.as_str()),
        (2, "Tham quan Thảo Cầm Viên")
    );
    assert!(
        seen.latest.is_none() && seen.decisions.is_empty(),
        "readers see the approved revision only"
    );
    assert_eq!(
        listed(&stack, &school.guardian, &school.school_id).await,
        vec![id.clone()]
    );
    assert!(
        listed(&stack, &other_class_guardian, &school.school_id)
            .await
            .is_empty(),
        "a class post is for its class"
    );

    // An edit of a published post goes back to the queue; readers keep revision 2,
    // and a file added with the edit waits with it.
    let added = upload(&stack, &school.homeroom, &school.school_id, "anh.pdf", PDF)
        .await
        .unwrap();
    stack
        .client()
        .edit_post(with_token(
            pb::EditPostRequest {
                attachment_ids: vec![added.id.clone()],
                ..edit("Tham quan (đã sửa)")
            },
            &school.homeroom,
        ))
        .await
        .unwrap();
    let waiting = download(&stack, &school.guardian, &added.id, false).await;
    assert_eq!(waiting.unwrap_err().code(), Code::PermissionDenied);
    assert!(
        download(&stack, &school.principal, &added.id, false)
            .await
            .is_ok()
    );
    let seen = get(&stack, &school.guardian, &id).await.unwrap();
    assert_eq!(seen.published.unwrap().revision, 2);
    assert_eq!(
        seen.status,
        PostStatus::Published as i32,
        "readers learn nothing of the revision waiting"
    );

    let audit = get(&stack, &school.homeroom, &id).await.unwrap();
    assert_eq!(
        audit.status,
        PostStatus::Pending as i32,
        "its author sees the edit waiting"
    );
    let decisions: Vec<(i32, bool, &str)> = audit
        .decisions
        .iter()
        .map(|d| (d.revision, d.approved, d.reason.as_str()))
        .collect();
    assert_eq!(
        decisions,
        vec![
            (1, false, "Ảnh có mặt học sinh chưa được phụ huynh đồng ý"),
            (2, true, "")
        ]
    );
    assert!(audit.decisions.iter().all(|d| !d.decided_by.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_principal_sets_who_is_trusted_who_moderates_and_which_classifications_staff_may_choose()
 {
    let stack = Stack::start().await;
    let school = &stack.school;
    let homeroom = stack.person(&school.homeroom).await;
    let other_homeroom = stack.person(&school.other_homeroom).await;
    let guardian = stack.person(&school.guardian).await;
    let policy = |trusted: Vec<String>| pb::SchoolPolicy {
        school_id: school.school_id.clone(),
        allowed: vec![
            Classification::Public as i32,
            Classification::School as i32,
            Classification::Class as i32,
        ],
        default_classification: Classification::School as i32,
        trusted_staff_ids: trusted,
        // 1A2's teacher moderates, as the IT officer does at the seed school.
        moderator_ids: vec![other_homeroom.clone()],
        public_feed: true,
        notify_late: true,
        ..Default::default()
    };

    let by_teacher = set_policy(&stack, &school.homeroom, policy(vec![])).await;
    assert_eq!(by_teacher.unwrap_err().code(), Code::PermissionDenied);
    let by_other_principal =
        set_policy(&stack, &school.other_school_principal, policy(vec![])).await;
    assert_eq!(
        by_other_principal.unwrap_err().code(),
        Code::PermissionDenied
    );
    let guardian_trusted = set_policy(&stack, &school.principal, policy(vec![guardian])).await;
    assert_eq!(guardian_trusted.unwrap_err().code(), Code::InvalidArgument);
    let bad_default = set_policy(
        &stack,
        &school.principal,
        pb::SchoolPolicy {
            default_classification: Classification::Confidential as i32,
            ..policy(vec![])
        },
    )
    .await;
    assert_eq!(bad_default.unwrap_err().code(), Code::InvalidArgument);
    let set = set_policy(&stack, &school.principal, policy(vec![homeroom.clone()]))
        .await
        .unwrap();
    assert_eq!(set.trusted_staff_ids, vec![homeroom]);
    assert!(set.notify_late, "late marks tell guardians at this school");
    assert!(!set.updated_by.is_empty() && !set.updated_at.is_empty());
    let read = stack
        .client()
        .get_school_policy(with_token(
            pb::GetSchoolPolicyRequest {
                school_id: school.school_id.clone(),
            },
            &school.guardian,
        ))
        .await;
    assert_eq!(read.unwrap_err().code(), Code::PermissionDenied);

    // Trusted: published at once, recorded as an automatic approval.
    let direct = submit(
        &stack,
        &school.homeroom,
        to_class(&school.class_id, Classification::Public),
    )
    .await;
    assert_eq!(direct.status, PostStatus::Published as i32);
    assert!(direct.decisions[0].automatic && direct.decisions[0].approved);
    // The default classification, and one the policy does not allow.
    let defaulted = submit(
        &stack,
        &school.other_homeroom,
        to_class(&school.other_class_id, Classification::Unspecified),
    )
    .await;
    assert_eq!(
        defaulted.latest.unwrap().classification,
        Classification::School as i32
    );
    let confidential = stack
        .client()
        .submit_post(with_token(
            pb::SubmitPostRequest {
                recipient_ids: vec![stack.person(&school.guardian).await],
                ..to_class(&school.class_id, Classification::Confidential)
            },
            &school.homeroom,
        ))
        .await;
    assert_eq!(confidential.unwrap_err().code(), Code::InvalidArgument);

    // The assigned moderator decides on the principal's behalf.
    let pending = submit(
        &stack,
        &school.principal,
        to_class(&school.class_id, Classification::School),
    )
    .await;
    assert_eq!(
        pending.status,
        PostStatus::Published as i32,
        "the principal moderates"
    );
    let pending = {
        let mut request = to_class(&school.other_class_id, Classification::School);
        request.title = "Tin lớp 1A2".into();
        submit(&stack, &school.district_admin, request).await
    };
    assert_eq!(pending.status, PostStatus::Pending as i32);
    moderate(&stack, &school.other_homeroom, &pending.id, 1, true, "")
        .await
        .unwrap();

    // The public feed: anyone, without signing in, reads the public posts only.
    let feed = stack
        .client()
        .list_public_posts(pb::ListPublicPostsRequest {
            school_id: school.school_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        feed.posts.iter().map(|p| &p.id).collect::<Vec<_>>(),
        vec![&direct.id]
    );
    assert!(
        feed.posts[0].author_person_id.is_empty(),
        "the feed names no staff member"
    );
    let no_feed = stack
        .client()
        .list_public_posts(pb::ListPublicPostsRequest {
            school_id: school.other_school_id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(no_feed.unwrap_err().code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_persona_reads_the_posts_their_classification_includes_and_no_other() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let (other_guardian, other_guardian_token) = stack.guardian_of(&school.other_student).await;
    let post = |classification: Classification, class: &str, recipients: Vec<String>| {
        pb::SubmitPostRequest {
            request_id: request_id(),
            school_id: if class.is_empty() {
                school.school_id.clone()
            } else {
                String::new()
            },
            class_id: class.to_owned(),
            title: format!("{classification:?}"),
            body: "Nội dung".into(),
            classification: classification as i32,
            recipient_ids: recipients,
            attachment_ids: Vec::new(),
        }
    };
    // The principal's posts publish at once, each with a file.
    let mut ids = Vec::new();
    let mut files = Vec::new();
    for mut request in [
        post(Classification::Public, "", vec![]),
        post(Classification::School, "", vec![]),
        post(Classification::Class, &school.class_id, vec![]),
        post(Classification::Confidential, "", vec![other_guardian]),
    ] {
        let file = upload(
            &stack,
            &school.principal,
            &school.school_id,
            "thong-bao.pdf",
            PDF,
        )
        .await
        .unwrap();
        request.attachment_ids = vec![file.id.clone()];
        let published = submit(&stack, &school.principal, request).await;
        assert_eq!(published.status, PostStatus::Published as i32);
        assert_eq!(published.attachments.len(), 1);
        ids.push(published.id);
        files.push(file.id);
    }

    // [public, school, class 1A1, confidential to 1A2's new guardian]
    let personas: [(&str, &String, [bool; 4]); 10] = [
        (
            "guardian in 1A1",
            &school.guardian,
            [true, true, true, false],
        ),
        (
            "guardian in 1A2, named",
            &other_guardian_token,
            [true, true, false, true],
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
        ("principal", &school.principal, [true, true, true, true]),
        (
            "district administrator",
            &school.district_admin,
            [true, true, true, false],
        ),
        (
            "district viewer",
            &school.district_viewer,
            [true, true, true, false],
        ),
        (
            "another school's principal",
            &school.other_school_principal,
            [false, false, false, false],
        ),
        (
            "another district's administrator",
            &school.other_district_admin,
            [false, false, false, false],
        ),
        ("operator", &school.operator, [false, false, false, false]),
    ];
    for (who, token, expected) in personas {
        let mut got = [false; 4];
        for (i, id) in ids.iter().enumerate() {
            got[i] = match get(&stack, token, id).await {
                Ok(_) => true,
                Err(status) if status.code() == Code::PermissionDenied => false,
                Err(status) => panic!("{who}: {status:?}"),
            };
        }
        assert_eq!(
            got, expected,
            "{who} reads [public, school, class, confidential]"
        );
        let mut downloads = [false; 4];
        for (i, file) in files.iter().enumerate() {
            downloads[i] = match download(&stack, token, file, false).await {
                Ok((_, bytes)) => bytes == PDF,
                Err(status) if status.code() == Code::PermissionDenied => false,
                Err(status) => panic!("{who}: {status:?}"),
            };
        }
        assert_eq!(
            downloads, expected,
            "{who} downloads the posts' files as they read the posts"
        );
        let listed = listed_with_files(&stack, token, &school.school_id).await;
        let expected_listed: Vec<(String, Vec<String>)> = ids
            .iter()
            .zip(&files)
            .zip(expected)
            .filter(|(_, shown)| *shown)
            .map(|((id, file), _)| (id.clone(), vec![file.clone()]))
            .rev()
            .collect();
        assert_eq!(
            listed, expected_listed,
            "{who} lists, each post with its file"
        );
    }
}
