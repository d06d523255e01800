//! `Subscribe`: a connected guardian receives what is for them as it happens (their
//! class group's messages, announcements to them, posts they may read) and nothing
//! else, and resumes after a reconnect with nothing missed and nothing twice.

use std::time::Duration;

use kernel::testing::{request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::update::Item;
use tonic::{Code, Streaming};

use crate::helpers::Stack;

/// The next update that is not a heartbeat, within five seconds.
async fn next(updates: &mut Streaming<pb::Update>) -> pb::Update {
    loop {
        let update = tokio::time::timeout(Duration::from_secs(5), updates.message())
            .await
            .expect("an update within five seconds")
            .unwrap()
            .expect("the stream goes on");
        if !matches!(update.item, Some(Item::Heartbeat(_))) {
            return update;
        }
    }
}

async fn subscribe(stack: &Stack, token: &str, cursor: &str) -> Streaming<pb::Update> {
    stack
        .client()
        .subscribe(with_token(
            pb::SubscribeRequest {
                cursor: cursor.to_owned(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn post(stack: &Stack, token: &str, conversation: &str, body: &str) -> pb::Message {
    stack
        .client()
        .post_message(with_token(
            pb::PostMessageRequest {
                request_id: request_id(),
                conversation_id: conversation.to_owned(),
                body: body.to_owned(),
                reply_to: String::new(),
                attachment_ids: Vec::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

fn body(update: &pb::Update) -> &str {
    match &update.item {
        Some(Item::Message(message)) => &message.body,
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connected_guardian_receives_what_is_theirs_as_it_happens_and_nothing_else() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut client = stack.client();
    let mut updates = subscribe(&stack, &school.guardian, "").await;
    let first = updates.message().await.unwrap().unwrap();
    assert!(matches!(first.item, Some(Item::Heartbeat(_))) && !first.cursor.is_empty());

    // Another class's group is not theirs; their child's is.
    post(
        &stack,
        &school.other_homeroom,
        &school.other_class_id,
        "Lớp 1A2 nghỉ",
    )
    .await;
    let sent = post(
        &stack,
        &school.homeroom,
        &school.class_id,
        "Mai lớp mình học bơi",
    )
    .await;
    let update = next(&mut updates).await;
    assert_eq!(body(&update), "Mai lớp mình học bơi");

    client
        .edit_message(with_token(
            pb::EditMessageRequest {
                request_id: request_id(),
                message_id: sent.id.clone(),
                body: "Mai lớp mình học bơi, nhớ mang đồ bơi".into(),
            },
            &school.homeroom,
        ))
        .await
        .unwrap();
    let edited = next(&mut updates).await;
    assert_eq!(body(&edited), "Mai lớp mình học bơi, nhớ mang đồ bơi");

    client
        .publish_announcement(with_token(
            pb::PublishAnnouncementRequest {
                request_id: request_id(),
                audience: Some(pb::Audience {
                    scope: Some(pb::audience::Scope::ClassId(school.class_id.clone())),
                }),
                title: "Học bơi".into(),
                body: "Lớp học bơi sáng mai.".into(),
                requires_ack: false,
                scheduled_at: String::new(),
                attachment_ids: Vec::new(),
                ..Default::default()
            },
            &school.principal,
        ))
        .await
        .unwrap();
    match next(&mut updates).await.item {
        Some(Item::Announcement(received)) => {
            assert_eq!(received.announcement.unwrap().title, "Học bơi");
        }
        other => panic!("not the announcement: {other:?}"),
    }

    // A post of the other class is not theirs; a school-wide one is.
    for (class, title) in [
        (&school.other_class_id, "Tin 1A2"),
        (&school.class_id, "Tin 1A1"),
    ] {
        client
            .submit_post(with_token(
                pb::SubmitPostRequest {
                    request_id: request_id(),
                    class_id: class.clone(),
                    title: title.into(),
                    body: "Nội dung".into(),
                    classification: pb::Classification::Class as i32,
                    ..Default::default()
                },
                &school.principal,
            ))
            .await
            .unwrap();
    }
    match next(&mut updates).await.item {
        Some(Item::Post(post)) => assert_eq!(post.published.unwrap().title, "Tin 1A1"),
        other => panic!("not the post: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_reconnect_the_updates_resume_after_the_last_one_received() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut updates = subscribe(&stack, &school.guardian, "").await;
    post(&stack, &school.homeroom, &school.class_id, "Tin nhắn 1").await;
    let received = next(&mut updates).await;
    assert_eq!(body(&received), "Tin nhắn 1");
    drop(updates);

    // While the app is away.
    for n in 2..=4 {
        post(
            &stack,
            &school.homeroom,
            &school.class_id,
            &format!("Tin nhắn {n}"),
        )
        .await;
    }
    let mut resumed = subscribe(&stack, &school.guardian, &received.cursor).await;
    let mut bodies = Vec::new();
    for _ in 2..=4 {
        bodies.push(body(&next(&mut resumed).await).to_owned());
    }
    assert_eq!(bodies, ["Tin nhắn 2", "Tin nhắn 3", "Tin nhắn 4"]);
    post(&stack, &school.homeroom, &school.class_id, "Tin nhắn 5").await;
    assert_eq!(
        body(&next(&mut resumed).await),
        "Tin nhắn 5",
        "nothing twice, then live"
    );

    // Replayed, an edited message comes as it is now, not as it was posted.
    let first_update = received.clone();
    let first = match &first_update.item {
        Some(Item::Message(message)) => message.id.clone(),
        other => panic!("not a message: {other:?}"),
    };
    stack
        .client()
        .delete_message(with_token(
            pb::DeleteMessageRequest {
                request_id: request_id(),
                message_id: first,
            },
            &school.homeroom,
        ))
        .await
        .unwrap();
    let mut replayed = subscribe(&stack, &school.guardian, "0-0").await;
    let original = next(&mut replayed).await;
    assert_eq!(
        body(&original),
        "",
        "a deleted message replays as its tombstone"
    );
    let ahead = stack
        .client()
        .subscribe(with_token(
            pb::SubscribeRequest {
                cursor: format!("{}-0", i64::MAX),
            },
            &school.guardian,
        ))
        .await;
    assert_eq!(ahead.unwrap_err().code(), Code::InvalidArgument);

    let made_up = stack
        .client()
        .subscribe(with_token(
            pb::SubscribeRequest {
                cursor: "yesterday".into(),
            },
            &school.guardian,
        ))
        .await;
    assert_eq!(made_up.unwrap_err().code(), Code::InvalidArgument);
    let anonymous = stack
        .client()
        .subscribe(pb::SubscribeRequest::default())
        .await;
    assert_eq!(anonymous.unwrap_err().code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_announcement_arrives_at_its_time_once_live_or_replayed() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut updates = subscribe(&stack, &school.guardian, "").await;
    post(
        &stack,
        &school.homeroom,
        &school.class_id,
        "Trước thông báo",
    )
    .await;
    let before = next(&mut updates).await;

    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    stack
        .client()
        .publish_announcement(with_token(
            pb::PublishAnnouncementRequest {
                request_id: request_id(),
                audience: Some(pb::Audience {
                    scope: Some(pb::audience::Scope::ClassId(school.class_id.clone())),
                }),
                title: "Nghỉ học chiều nay".into(),
                body: "Trường cắt điện, học sinh nghỉ buổi chiều.".into(),
                scheduled_at: at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
                ..Default::default()
            },
            &school.principal,
        ))
        .await
        .unwrap();
    post(
        &stack,
        &school.homeroom,
        &school.class_id,
        "Sau khi hẹn giờ",
    )
    .await;
    assert_eq!(
        body(&next(&mut updates).await),
        "Sau khi hẹn giờ",
        "not shown before its time"
    );
    let shown = next(&mut updates).await;
    assert!(
        time::OffsetDateTime::now_utc() >= at,
        "arrived at its time, not before"
    );
    match shown.item {
        Some(Item::Announcement(received)) => {
            assert_eq!(received.announcement.unwrap().title, "Nghỉ học chiều nay");
        }
        other => panic!("not the announcement: {other:?}"),
    }
    drop(updates);

    // Replayed from before it was written: once, after the message it followed.
    let mut replayed = subscribe(&stack, &school.guardian, &before.cursor).await;
    assert_eq!(body(&next(&mut replayed).await), "Sau khi hẹn giờ");
    assert!(matches!(
        next(&mut replayed).await.item,
        Some(Item::Announcement(_))
    ));
    post(&stack, &school.homeroom, &school.class_id, "Tin cuối").await;
    assert_eq!(
        body(&next(&mut replayed).await),
        "Tin cuối",
        "the announcement came once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_holds_a_few_live_streams_and_no_more() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let mut open = Vec::new();
    for _ in 0..5 {
        let mut updates = subscribe(&stack, &school.guardian, "").await;
        next_heartbeat(&mut updates).await;
        open.push(updates);
    }
    let refused = stack
        .client()
        .subscribe(with_token(
            pb::SubscribeRequest::default(),
            &school.guardian,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let mut teacher = subscribe(&stack, &school.homeroom, "").await;
    next_heartbeat(&mut teacher).await;

    // A stream the app closes frees its place.
    drop(open.pop());
    kernel::testing::eventually("a place freed", Duration::from_secs(10), || {
        let mut client = stack.client();
        let request = with_token(pb::SubscribeRequest::default(), &school.guardian);
        async move { client.subscribe(request).await.ok() }
    })
    .await;
}

/// The heartbeat a stream starts with.
async fn next_heartbeat(updates: &mut Streaming<pb::Update>) {
    let first = tokio::time::timeout(Duration::from_secs(5), updates.message())
        .await
        .expect("the first update within five seconds")
        .unwrap()
        .expect("the stream goes on");
    assert!(matches!(first.item, Some(Item::Heartbeat(_))));
}
