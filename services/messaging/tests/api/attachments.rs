//! Attachments: a photo uploaded without its GPS position, attached to a message,
//! downloaded (and its thumbnail) by the conversation's members only; what is
//! refused on the way in.

use image::codecs::jpeg::JpegEncoder;
use kernel::testing::{request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::upload_attachment_chunk::Part;
use sha2::{Digest as _, Sha256};
use tonic::Code;

use crate::helpers::{Stack, download, upload};

/// A JPEG photo with an EXIF block naming where it was taken.
fn photo_with_gps() -> Vec<u8> {
    let image = image::DynamicImage::new_rgb8(640, 480);
    let mut plain = Vec::new();
    image
        .write_with_encoder(JpegEncoder::new_with_quality(&mut plain, 90))
        .unwrap();
    let exif = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 10.8231 N GPSLongitude 106.6297 E";
    let mut with_exif = vec![0xFF, 0xD8, 0xFF, 0xE1];
    with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    with_exif.extend_from_slice(exif);
    with_exif.extend_from_slice(&plain[2..]);
    with_exif
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Deletes the message `id`, as `token`.
async fn delete(stack: &Stack, token: &str, id: String) {
    stack
        .client()
        .delete_message(with_token(
            pb::DeleteMessageRequest {
                request_id: request_id(),
                message_id: id,
            },
            token,
        ))
        .await
        .unwrap();
}

async fn post_with(
    stack: &Stack,
    token: &str,
    conversation: &str,
    attachments: Vec<String>,
) -> Result<pb::Message, tonic::Status> {
    stack
        .client()
        .post_message(with_token(
            pb::PostMessageRequest {
                request_id: request_id(),
                conversation_id: conversation.to_owned(),
                body: "Ảnh lớp mình hôm nay".into(),
                reply_to: String::new(),
                attachment_ids: attachments,
            },
            token,
        ))
        .await
        .map(|m| m.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_photo_reaches_the_class_group_without_its_position_and_no_one_else() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let photo = photo_with_gps();
    let uploaded = upload(
        &stack,
        &school.homeroom,
        &school.school_id,
        "tham-quan.jpg",
        &photo,
    )
    .await
    .unwrap();
    assert_eq!(uploaded.content_type, "image/jpeg");
    assert!(uploaded.has_thumbnail);
    let stored = std::fs::read(
        stack
            .attachments_dir
            .join(&school.school_id)
            .join(&uploaded.id),
    )
    .unwrap();
    assert!(
        !holds(&stored, b"GPSLatitude") && !holds(&stored, b"Exif"),
        "kept without its metadata"
    );

    // Before it is sent, it is its uploader's only.
    let early = download(&stack, &school.guardian, &uploaded.id, false).await;
    assert_eq!(early.unwrap_err().code(), Code::PermissionDenied);
    assert!(
        download(&stack, &school.homeroom, &uploaded.id, false)
            .await
            .is_ok()
    );

    // Someone else's upload is not theirs to send.
    let taken = post_with(
        &stack,
        &school.principal,
        &school.class_id,
        vec![uploaded.id.clone()],
    )
    .await;
    assert_eq!(taken.unwrap_err().code(), Code::PermissionDenied);
    let sent = post_with(
        &stack,
        &school.homeroom,
        &school.class_id,
        vec![uploaded.id.clone()],
    )
    .await
    .unwrap();
    assert_eq!(sent.attachments.len(), 1);
    let again = post_with(
        &stack,
        &school.homeroom,
        &school.class_id,
        vec![uploaded.id.clone()],
    )
    .await;
    assert_eq!(
        again.unwrap_err().code(),
        Code::PermissionDenied,
        "attached once"
    );

    let listed = stack
        .client()
        .list_messages(with_token(
            pb::ListMessagesRequest {
                conversation_id: school.class_id.clone(),
                ..Default::default()
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.messages[0].attachments[0].id, uploaded.id);
    let (described, bytes) = download(&stack, &school.guardian, &uploaded.id, false)
        .await
        .unwrap();
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        (described.size, digest),
        (bytes.len() as i64, uploaded.sha256.clone())
    );
    let (thumbnail, small) = download(&stack, &school.guardian, &uploaded.id, true)
        .await
        .unwrap();
    assert_eq!(thumbnail.content_type, "image/jpeg");
    let small = image::load_from_memory(&small).unwrap();
    assert_eq!((small.width(), small.height()), (320, 240));
    let outsider = download(&stack, &school.other_homeroom, &uploaded.id, false).await;
    assert_eq!(outsider.unwrap_err().code(), Code::PermissionDenied);

    // A deleted message's attachment is no longer served.
    delete(&stack, &school.homeroom, sent.id).await;
    let gone = download(&stack, &school.guardian, &uploaded.id, false).await;
    assert_eq!(gone.unwrap_err().code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread")]
async fn what_is_not_an_accepted_file_or_not_for_the_callers_school_is_refused() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    let report = upload(
        &stack,
        &school.guardian,
        &school.school_id,
        "don-xin-phep.pdf",
        pdf,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.content_type.as_str(), report.has_thumbnail),
        ("application/pdf", false)
    );
    // (case, uploader, school, file name, bytes, answer)
    type Case<'a> = (&'a str, &'a String, &'a String, &'a str, Vec<u8>, Code);
    let cases: [Case<'_>; 5] = [
        (
            "text named .jpg",
            &school.homeroom,
            &school.school_id,
            "anh.jpg",
            b"just text".to_vec(),
            Code::InvalidArgument,
        ),
        (
            "a broken photo",
            &school.homeroom,
            &school.school_id,
            "anh.jpg",
            b"\xFF\xD8\xFF\xE0 broken".to_vec(),
            Code::InvalidArgument,
        ),
        (
            "over the size limit",
            &school.homeroom,
            &school.school_id,
            "to.pdf",
            [b"%PDF-".as_slice(), &vec![b'x'; 3 * 1024 * 1024]].concat(),
            Code::InvalidArgument,
        ),
        (
            "for another school",
            &school.homeroom,
            &school.other_school_id,
            "a.pdf",
            pdf.to_vec(),
            Code::PermissionDenied,
        ),
        (
            "by the operator",
            &school.operator,
            &school.school_id,
            "a.pdf",
            pdf.to_vec(),
            Code::PermissionDenied,
        ),
    ];
    for (case, token, at, name, bytes, code) in cases {
        let refused = upload(&stack, token, at, name, &bytes).await;
        assert_eq!(refused.unwrap_err().code(), code, "{case}");
    }
    let headless = stack
        .client()
        .upload_attachment(with_token(
            tokio_stream::iter(vec![pb::UploadAttachmentChunk {
                part: Some(Part::Data(pdf.to_vec())),
            }]),
            &school.homeroom,
        ))
        .await;
    assert_eq!(headless.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_announcements_file_goes_to_its_guardians_and_those_who_see_its_receipts() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let (_, other_class_guardian) = stack.guardian_of(&school.other_student).await;
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    let letter = upload(
        &stack,
        &school.principal,
        &school.school_id,
        "thu-moi.pdf",
        pdf,
    )
    .await
    .unwrap();
    let announced = stack
        .client()
        .publish_announcement(with_token(
            pb::PublishAnnouncementRequest {
                request_id: request_id(),
                audience: Some(pb::Audience {
                    scope: Some(pb::audience::Scope::ClassId(school.class_id.clone())),
                }),
                title: "Thư mời họp phụ huynh".into(),
                body: "Xin xem thư mời đính kèm.".into(),
                attachment_ids: vec![letter.id.clone()],
                // Only its recipients (classifications: announcements.rs).
                classification: pb::Classification::Confidential as i32,
                ..Default::default()
            },
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(announced.attachments[0].id, letter.id);
    let listed = stack
        .client()
        .list_announcements(with_token(
            pb::ListAnnouncementsRequest::default(),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    let shown = listed.entries[0].announcement.as_ref().unwrap();
    assert_eq!(shown.attachments[0].content_type, "application/pdf");
    for (who, token, allowed) in [
        ("a guardian of the class", &school.guardian, true),
        ("the district's administrator", &school.district_admin, true),
        ("a guardian of another class", &other_class_guardian, false),
        ("another class's teacher", &school.other_homeroom, false),
    ] {
        match download(&stack, token, &letter.id, false).await {
            Ok((_, bytes)) => assert!(allowed && bytes == pdf, "{who}"),
            Err(status) => assert!(
                !allowed && status.code() == Code::PermissionDenied,
                "{who}: {status:?}"
            ),
        }
    }
}

/// The status, content type and body of a plain HTTP GET of `path` on messaging's
/// port, without a token, as a browser fetches a link.
async fn fetch(stack: &Stack, path: &str) -> (u16, String, Vec<u8>) {
    let response = reqwest::get(format!("http://{}{path}", stack.address))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

async fn link(
    stack: &Stack,
    token: &str,
    id: &str,
    thumbnail: bool,
) -> Result<pb::DownloadLink, tonic::Status> {
    stack
        .client()
        .create_download_link(with_token(
            pb::DownloadAttachmentRequest {
                attachment_id: id.to_owned(),
                thumbnail,
            },
            token,
        ))
        .await
        .map(|link| link.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_link_downloads_the_file_without_a_token_until_it_is_tampered_with_or_withdrawn() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let uploaded = upload(
        &stack,
        &school.homeroom,
        &school.school_id,
        "ve-tranh.jpg",
        &photo_with_gps(),
    )
    .await
    .unwrap();
    let sent = post_with(
        &stack,
        &school.homeroom,
        &school.class_id,
        vec![uploaded.id.clone()],
    )
    .await
    .unwrap();
    let (_, kept) = download(&stack, &school.guardian, &uploaded.id, false)
        .await
        .unwrap();

    let file = link(&stack, &school.guardian, &uploaded.id, false)
        .await
        .unwrap();
    assert!(
        file.url
            .starts_with(&format!("/attachments/{}?", uploaded.id))
    );
    assert!(!file.expires_at.is_empty());
    let (status, content_type, bytes) = fetch(&stack, &file.url).await;
    assert_eq!((status, content_type.as_str()), (200, "image/jpeg"));
    assert!(bytes == kept, "the file as kept");
    let thumbnail = link(&stack, &school.guardian, &uploaded.id, true)
        .await
        .unwrap();
    let (status, _, small) = fetch(&stack, &thumbnail.url).await;
    assert_eq!(status, 200);
    assert_eq!(image::load_from_memory(&small).unwrap().width(), 320);

    let outsider = link(&stack, &school.other_homeroom, &uploaded.id, false).await;
    assert_eq!(outsider.unwrap_err().code(), Code::PermissionDenied);
    let anonymous = stack
        .client()
        .create_download_link(pb::DownloadAttachmentRequest {
            attachment_id: uploaded.id.clone(),
            thumbnail: false,
        })
        .await;
    assert_eq!(anonymous.unwrap_err().code(), Code::Unauthenticated);

    let tampered = [
        file.url.replace("thumbnail=false", "thumbnail=true"),
        file.url.replace("expires=", "expires=9"),
        thumbnail
            .url
            .replace(&uploaded.id, &uuid::Uuid::now_v7().to_string()),
        format!("/attachments/{}", uploaded.id),
    ];
    for path in tampered {
        let (status, _, _) = fetch(&stack, &path).await;
        assert!(status == 403 || status == 400, "{path} answered {status}");
    }

    delete(&stack, &school.homeroom, sent.id).await;
    let (status, _, _) = fetch(&stack, &file.url).await;
    assert_eq!(status, 410, "withdrawn with its message");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_public_feed_links_its_photos_for_readers_without_an_account() {
    let stack = Stack::start().await;
    let school = &stack.school;
    stack
        .client()
        .set_school_policy(with_token(
            pb::SetSchoolPolicyRequest {
                request_id: request_id(),
                policy: Some(pb::SchoolPolicy {
                    school_id: school.school_id.clone(),
                    allowed: vec![
                        pb::Classification::Public as i32,
                        pb::Classification::School as i32,
                    ],
                    default_classification: pb::Classification::School as i32,
                    public_feed: true,
                    ..Default::default()
                }),
            },
            &school.principal,
        ))
        .await
        .unwrap();
    let mut photos = Vec::new();
    for classification in [pb::Classification::Public, pb::Classification::School] {
        let photo = upload(
            &stack,
            &school.principal,
            &school.school_id,
            "khai-giang.jpg",
            &photo_with_gps(),
        )
        .await
        .unwrap();
        stack
            .client()
            .submit_post(with_token(
                pb::SubmitPostRequest {
                    request_id: request_id(),
                    school_id: school.school_id.clone(),
                    title: "Lễ khai giảng".into(),
                    body: "Hình ảnh ngày khai giảng.".into(),
                    classification: classification as i32,
                    attachment_ids: vec![photo.id.clone()],
                    ..Default::default()
                },
                &school.principal,
            ))
            .await
            .unwrap();
        photos.push(photo.id);
    }
    let feed = stack
        .client()
        .list_public_posts(pb::ListPublicPostsRequest {
            school_id: school.school_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let shown: Vec<&pb::Attachment> = feed.posts.iter().flat_map(|p| &p.attachments).collect();
    assert_eq!(shown.len(), 1, "the public post's photo only");
    assert_eq!(shown[0].id, photos[0]);
    let (status, content_type, _) = fetch(&stack, &shown[0].link.as_ref().unwrap().url).await;
    assert_eq!((status, content_type.as_str()), (200, "image/jpeg"));
    let thumbnail = shown[0].thumbnail_link.as_ref().unwrap();
    assert_eq!(fetch(&stack, &thumbnail.url).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_departed_guardians_files_go_with_their_erased_personal_data() {
    let stack = Stack::start().await;
    let school = &stack.school;
    let student = &school.students[1];
    let (guardian, token) = stack.guardian_of(student).await;
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    let note = upload(
        &stack,
        &token,
        &school.school_id,
        "giay-kham-benh-nguyen-van-a.pdf",
        pdf,
    )
    .await
    .unwrap();
    post_with(&stack, &token, &school.class_id, vec![note.id.clone()])
        .await
        .unwrap();
    let teachers = upload(&stack, &school.homeroom, &school.school_id, "lich.pdf", pdf)
        .await
        .unwrap();
    post_with(
        &stack,
        &school.homeroom,
        &school.class_id,
        vec![teachers.id.clone()],
    )
    .await
    .unwrap();
    let stored = stack.attachments_dir.join(&school.school_id).join(&note.id);
    assert!(stored.exists());

    // The child leaves; the district erases the guardian.
    let mut directory = stack.directory();
    directory
        .withdraw_student(with_token(
            lienlac_proto::identity::v1::WithdrawStudentRequest {
                request_id: request_id(),
                student_id: student.clone(),
                reason: "Chuyển trường".into(),
                ..Default::default()
            },
            &school.district_admin,
        ))
        .await
        .unwrap();
    directory
        .erase_personal_data(with_token(
            lienlac_proto::identity::v1::ErasePersonalDataRequest {
                request_id: request_id(),
                person_id: guardian,
            },
            &school.district_admin,
        ))
        .await
        .unwrap();

    kernel::testing::eventually(
        "the guardian's file purged",
        std::time::Duration::from_secs(20),
        || {
            let stored = stored.clone();
            async move { (!stored.exists()).then_some(()) }
        },
    )
    .await;
    let gone = download(&stack, &school.homeroom, &note.id, false).await;
    assert_eq!(gone.unwrap_err().code(), Code::FailedPrecondition);
    let name: String = sqlx::query_scalar("SELECT file_name FROM attachments WHERE id = $1::uuid")
        .bind(&note.id)
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(name, "", "its name, which may name the child, is gone too");
    assert!(
        download(&stack, &school.homeroom, &teachers.id, false)
            .await
            .is_ok(),
        "what staff sent stays with the school's record"
    );
}
