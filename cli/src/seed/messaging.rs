//! The school–home side of the demo: each school's publishing policy (its IT
//! officer moderates, a public feed) and this week's menu, every class's
//! timetable, and at Tân Thông a class group's first messages, posts approved,
//! waiting and rejected (with drawn photos, no child in them), the principal's
//! public news, a curriculum plan and an announcement with receipts. Each as the
//! person who would do it, signed in.

use std::time::Duration;

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::Classification;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use tonic::transport::Channel;

use crate::credentials::Credentials;
use crate::{progress, session};

use super::plan::{pick, rid};
use super::{CONCURRENCY, DEMO_GUARDIAN, Seed, SeededClass, SeededSchool};

const LUNCHES: [&[&str]; 8] = [
    &["Cơm trắng", "Thịt kho trứng", "Canh cải xanh", "Chuối"],
    &["Cơm trắng", "Cá basa chiên", "Canh chua", "Dưa hấu"],
    &["Bún bò Huế", "Sữa chua"],
    &["Cơm trắng", "Gà xào sả ớt", "Canh bí đỏ", "Thanh long"],
    &["Phở gà", "Chè đậu xanh"],
    &["Cơm trắng", "Tôm rim", "Canh mồng tơi", "Đu đủ"],
    &["Hủ tiếu Nam Vang", "Sữa tươi"],
    &["Cơm trắng", "Đậu hũ sốt cà", "Canh rau ngót", "Cam"],
];

/// The subjects of a grade's week (Circular 32/2018's primary programme).
fn subjects(grade: i32) -> Vec<&'static str> {
    let mut all = vec![
        "Tiếng Việt",
        "Tiếng Việt",
        "Toán",
        "Đạo đức",
        "Tự nhiên và Xã hội",
        "Âm nhạc",
        "Mĩ thuật",
        "Giáo dục thể chất",
        "Hoạt động trải nghiệm",
    ];
    if grade >= 3 {
        all.extend(["Tiếng Anh", "Tin học", "Công nghệ"]);
    }
    if grade >= 4 {
        all.extend(["Khoa học", "Lịch sử và Địa lí"]);
    }
    all
}

/// Monday to Friday, seven periods a day, drawn from the grade's subjects.
fn timetable(class: &SeededClass) -> pb::Timetable {
    let grade = class.name[..1].parse().unwrap_or(1);
    let subjects = subjects(grade);
    let mut slots = Vec::new();
    for day in 1..=5 {
        for period in 1..=7 {
            let key = format!("timetable:{}:{day}:{period}", class.id);
            let subject = subjects[pick(&key, subjects.len())];
            let homeroom = matches!(subject, "Tiếng Việt" | "Toán" | "Đạo đức");
            slots.push(pb::TimetableSlot {
                day,
                period,
                subject: subject.to_owned(),
                teacher: if homeroom { "GVCN" } else { "GV bộ môn" }.to_owned(),
                room: format!("Phòng {}", class.name),
            });
        }
    }
    pb::Timetable { slots }
}

fn menu(school: &str) -> pb::Menu {
    pb::Menu {
        days: (1..=5)
            .map(|day| {
                let lunch = LUNCHES[pick(&format!("menu:{school}:{day}"), LUNCHES.len())];
                let allergens = if lunch.iter().any(|dish| dish.contains("Tôm")) {
                    vec!["tôm".to_owned()]
                } else {
                    Vec::new()
                };
                pb::MenuDay {
                    day,
                    meals: vec![
                        pb::Meal {
                            name: "Bữa trưa".into(),
                            dishes: lunch.iter().map(|d| d.to_string()).collect(),
                            allergens,
                        },
                        pb::Meal {
                            name: "Bữa xế".into(),
                            dishes: vec!["Bánh bông lan".into(), "Sữa tươi".into()],
                            allergens: vec!["sữa".into(), "trứng".into()],
                        },
                    ],
                }
            })
            .collect(),
    }
}

/// What a demo photo shows: drawn, not taken, so no child is in it.
#[derive(Debug, Clone, Copy)]
enum Scene {
    /// A zoo's trees under a blue sky.
    Outing,
    /// Crayons' colours on paper.
    Drawing,
    /// A flag over the schoolyard at morning.
    Opening,
}

impl Scene {
    fn file_name(self) -> &'static str {
        match self {
            Scene::Outing => "tham-quan-thao-cam-vien",
            Scene::Drawing => "tranh-em-yeu-truong-em",
            Scene::Opening => "le-khai-giang",
        }
    }

    /// The scene as an 800 × 600 JPEG: a sky, a sun and ground of its colours.
    fn photo(self) -> anyhow::Result<Vec<u8>> {
        let (sky, ground): ([u8; 3], [u8; 3]) = match self {
            Scene::Outing => ([120, 190, 240], [70, 150, 60]),
            Scene::Drawing => ([250, 240, 200], [230, 120, 60]),
            Scene::Opening => ([250, 200, 150], [200, 60, 50]),
        };
        let shade = |colour: [u8; 3], depth: u32| {
            colour.map(|c| u8::try_from(u32::from(c) * (600 - depth / 3) / 600).unwrap_or(c))
        };
        let picture = image::RgbImage::from_fn(800, 600, |x, y| {
            let (dx, dy) = (i64::from(x) - 620, i64::from(y) - 140);
            if dx * dx + dy * dy < 60 * 60 {
                image::Rgb([255, 215, 0])
            } else if y > 400 {
                image::Rgb(shade(ground, y - 400))
            } else {
                image::Rgb(shade(sky, y))
            }
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
            .encode_image(&picture)
            .context("drawing a demo photo")?;
        Ok(jpeg)
    }
}

/// The demo's people, signed in, and messaging as each of them.
struct Messaging {
    client: MessagingServiceClient<Channel>,
    auth: AuthServiceClient<Channel>,
    identity_url: String,
}

impl Messaging {
    async fn as_person(&self, username: &str) -> anyhow::Result<Credentials> {
        Seed::sign_in(&mut self.auth.clone(), &self.identity_url, username).await
    }

    /// The photo for `who`'s post titled `title`: the one it was sent with when the
    /// post is already there (the seed runs again, repeating its requests
    /// unchanged), else a generated one uploaded now.
    async fn photo_for(
        &self,
        who: &Credentials,
        school_id: &str,
        title: &str,
        scene: Scene,
    ) -> anyhow::Result<Vec<String>> {
        let mut client = self.client.clone();
        let mine = client
            .list_posts(session::authorised(
                pb::ListPostsRequest {
                    school_id: school_id.to_owned(),
                    mine: true,
                    limit: 100,
                    ..Default::default()
                },
                who,
            )?)
            .await?
            .into_inner()
            .posts;
        let posted = mine.iter().find(|post| {
            [&post.latest, &post.published]
                .into_iter()
                .flatten()
                .any(|revision| revision.title == title)
        });
        if let Some(post) = posted {
            return Ok(post.attachments.iter().map(|a| a.id.clone()).collect());
        }
        let photo = scene.photo()?;
        let mut chunks = vec![pb::UploadAttachmentChunk {
            part: Some(pb::upload_attachment_chunk::Part::Header(
                pb::AttachmentHeader {
                    school_id: school_id.to_owned(),
                    file_name: format!("{}.jpg", scene.file_name()),
                },
            )),
        }];
        chunks.extend(
            photo
                .chunks(64 * 1024)
                .map(|data| pb::UploadAttachmentChunk {
                    part: Some(pb::upload_attachment_chunk::Part::Data(data.to_vec())),
                }),
        );
        let uploaded = client
            .upload_attachment(session::authorised(futures::stream::iter(chunks), who)?)
            .await
            .context("uploading a demo photo")?
            .into_inner();
        Ok(vec![uploaded.id])
    }

    async fn person_id(&self, credentials: &Credentials) -> anyhow::Result<String> {
        Ok(self
            .auth
            .clone()
            .who_am_i(session::authorised(id::WhoAmIRequest {}, credentials)?)
            .await?
            .into_inner()
            .person
            .map(|person| person.id)
            .unwrap_or_default())
    }
}

/// Runs `call` until messaging, which follows identity's events, knows what it
/// names (NOT_FOUND, or PERMISSION_DENIED for a link it has not seen yet), for at
/// most a minute.
async fn once_known<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<tonic::Response<T>>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match call().await {
            Ok(answer) => return Ok(answer.into_inner()),
            Err(error) => {
                let not_yet = error.downcast_ref::<tonic::Status>().is_some_and(|status| {
                    matches!(
                        status.code(),
                        tonic::Code::NotFound | tonic::Code::PermissionDenied
                    )
                });
                if !not_yet || tokio::time::Instant::now() >= deadline {
                    return Err(error).with_context(|| what.to_owned());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

impl Seed {
    pub(super) async fn messaging(
        &self,
        schools: &[SeededSchool],
        classes: &[SeededClass],
        operator: &Credentials,
        today: time::Date,
    ) -> anyhow::Result<()> {
        let messaging = Messaging {
            client: MessagingServiceClient::new(session::connect(&self.messaging_url).await?),
            auth: AuthServiceClient::new(session::connect(&operator.identity_url).await?),
            identity_url: operator.identity_url.clone(),
        };
        let monday =
            today - time::Duration::days(i64::from(today.weekday().number_days_from_monday()));
        for (number, school) in schools.iter().enumerate() {
            let principal = messaging.as_person(&school.principal).await?;
            // The school's IT officer, where it has one, moderates with the principal.
            let it_officer = match &school.it_officer {
                Some(username) => Some(messaging.as_person(username).await?),
                None => None,
            };
            let moderator_ids = match &it_officer {
                Some(it_officer) => vec![messaging.person_id(it_officer).await?],
                None => Vec::new(),
            };
            let school_id = school.id.clone();
            let policy = pb::SchoolPolicy {
                school_id: school_id.clone(),
                allowed: vec![
                    Classification::Public as i32,
                    Classification::School as i32,
                    Classification::Class as i32,
                    Classification::Confidential as i32,
                ],
                default_classification: Classification::School as i32,
                moderator_ids,
                public_feed: true,
                ..Default::default()
            };
            let request = pb::SetSchoolPolicyRequest {
                request_id: rid(&format!("policy:{school_id}")),
                policy: Some(policy),
            };
            once_known("the school's policy", || {
                let mut client = messaging.client.clone();
                let request = session::authorised(request.clone(), &principal);
                async move { client.set_school_policy(request?).await.map_err(Into::into) }
            })
            .await?;
            messaging
                .client
                .clone()
                .publish_menu(session::authorised(
                    pb::PublishMenuRequest {
                        request_id: rid(&format!("menu:{school_id}:{monday}")),
                        school_id: school_id.clone(),
                        effective_from: monday.to_string(),
                        classification: Classification::Public as i32,
                        menu: Some(menu(&school_id)),
                    },
                    &principal,
                )?)
                .await
                .context("publishing the menu")?;
            let school_classes: Vec<&SeededClass> =
                classes.iter().filter(|c| c.school == number).collect();
            self.timetables(&messaging, &school_classes, monday).await?;
            if number == 0 {
                self.school_life(
                    &messaging,
                    &school_classes,
                    &principal,
                    it_officer.as_ref().unwrap_or(&principal),
                    &school_id,
                    monday,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Each class's timetable from this Monday, published by its homeroom teacher.
    async fn timetables(
        &self,
        messaging: &Messaging,
        classes: &[&SeededClass],
        monday: time::Date,
    ) -> anyhow::Result<()> {
        let bar = progress::bar(classes.len() as u64, "timetables");
        futures::stream::iter(classes)
            .map(|class| {
                let (client, bar) = (messaging.client.clone(), &bar);
                async move {
                    let teacher = messaging.as_person(&class.teacher_username).await?;
                    let request = pb::PublishTimetableRequest {
                        request_id: rid(&format!("timetable:{}:{monday}", class.id)),
                        class_id: class.id.clone(),
                        effective_from: monday.to_string(),
                        classification: Classification::Class as i32,
                        timetable: Some(timetable(class)),
                    };
                    once_known(&format!("the timetable of {}", class.name), || {
                        let mut client = client.clone();
                        let request = session::authorised(request.clone(), &teacher);
                        async move { client.publish_timetable(request?).await.map_err(Into::into) }
                    })
                    .await?;
                    bar.inc(1);
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await?;
        bar.finish_and_clear();
        Ok(())
    }

    /// Tân Thông's school life: 1A1's group, posts in each state of moderation,
    /// 1A1's plan, and a parents' meeting the demo guardian has confirmed.
    async fn school_life(
        &self,
        messaging: &Messaging,
        classes: &[&SeededClass],
        principal: &Credentials,
        moderator: &Credentials,
        school_id: &str,
        monday: time::Date,
    ) -> anyhow::Result<()> {
        let first = classes
            .iter()
            .find(|c| c.name == "1A1")
            .context("no class 1A1 at the first school")?;
        let second = classes
            .iter()
            .find(|c| c.name != "1A1")
            .context("one class only at the first school")?;
        let teacher = messaging.as_person(&first.teacher_username).await?;
        let other_teacher = messaging.as_person(&second.teacher_username).await?;
        let guardian = messaging.as_person(DEMO_GUARDIAN).await?;
        let mut client = messaging.client.clone();

        for (n, (who, body)) in [
            (&teacher, "Chào các phụ huynh lớp 1A1. Cô là giáo viên chủ nhiệm, có việc gì quý phụ huynh nhắn cô ở đây nhé."),
            (&guardian, "Dạ chào cô, cảm ơn cô ạ."),
        ]
        .into_iter()
        .enumerate()
        {
            let request = pb::PostMessageRequest {
                request_id: rid(&format!("message:{}:{n}", first.id)),
                conversation_id: first.id.clone(),
                body: body.to_owned(),
                reply_to: String::new(),
                attachment_ids: Vec::new(),
            };
            once_known("a message in 1A1's group", || {
                let mut client = client.clone();
                let request = session::authorised(request.clone(), who);
                async move { client.post_message(request?).await.map_err(Into::into) }
            })
            .await?;
        }

        let post =
            |key: &str, class: &SeededClass, title: &str, body: &str| pb::SubmitPostRequest {
                request_id: rid(&format!("post:{key}")),
                class_id: class.id.clone(),
                title: title.to_owned(),
                body: body.to_owned(),
                classification: Classification::Class as i32,
                ..Default::default()
            };
        let outing_title = "Lớp 1A1 tham quan Thảo Cầm Viên";
        let outing = client
            .submit_post(session::authorised(
                pb::SubmitPostRequest {
                    attachment_ids: messaging
                        .photo_for(&teacher, school_id, outing_title, Scene::Outing)
                        .await?,
                    ..post(
                        "outing",
                        first,
                        outing_title,
                        "Sáng nay các em lớp 1A1 đã được tham quan Thảo Cầm Viên, tìm hiểu về các loài động vật. Các em rất vui và ngoan.",
                    )
                },
                &teacher,
            )?)
            .await?
            .into_inner();
        let drawing_title = "Hội thi vẽ tranh \"Em yêu trường em\"";
        let drawing = client
            .submit_post(session::authorised(
                pb::SubmitPostRequest {
                    attachment_ids: messaging
                        .photo_for(&other_teacher, school_id, drawing_title, Scene::Drawing)
                        .await?,
                    ..post(
                        "drawing",
                        second,
                        drawing_title,
                        "Lớp đạt giải Nhì hội thi vẽ tranh của trường. Chúc mừng các em!",
                    )
                },
                &other_teacher,
            )?)
            .await?
            .into_inner();
        // The principal's news of the whole school publishes at once, on the
        // school's public feed too.
        let opening_title = "Lễ khai giảng năm học mới";
        client
            .submit_post(session::authorised(
                pb::SubmitPostRequest {
                    request_id: rid(&format!("post:opening:{school_id}")),
                    school_id: school_id.to_owned(),
                    title: opening_title.to_owned(),
                    body: "Trường đã long trọng tổ chức lễ khai giảng. Chúc các em một năm học mới chăm ngoan, học giỏi.".to_owned(),
                    classification: Classification::Public as i32,
                    attachment_ids: messaging
                        .photo_for(principal, school_id, opening_title, Scene::Opening)
                        .await?,
                    ..Default::default()
                },
                principal,
            )?)
            .await?;
        client
            .submit_post(session::authorised(
                post(
                    "class-photo",
                    first,
                    "Ảnh lớp ngày khai giảng",
                    "Ảnh cả lớp ngày khai giảng, có ghi họ tên và địa chỉ từng em.",
                ),
                &teacher,
            )?)
            .await?;
        // The IT officer approves one, the principal rejects another; the rest waits.
        for (post, approve, reason, moderator) in [
            (&outing, true, "", moderator),
            (
                &drawing,
                false,
                "Ảnh có học sinh chưa được phụ huynh đồng ý đăng; xin cô thay ảnh.",
                principal,
            ),
        ] {
            if post.status != pb::PostStatus::Pending as i32 {
                continue;
            }
            client
                .moderate_post(session::authorised(
                    pb::ModeratePostRequest {
                        request_id: rid(&format!("moderate:{}", post.id)),
                        post_id: post.id.clone(),
                        revision: 1,
                        approve,
                        reason: reason.to_owned(),
                    },
                    moderator,
                )?)
                .await
                .context("moderating a post")?;
        }

        let week = |offset: i64, lessons: [&str; 2]| pb::CurriculumWeek {
            week_of: (monday + time::Duration::weeks(offset)).to_string(),
            subjects: vec![
                pb::SubjectLessons {
                    subject: "Toán".into(),
                    lessons: vec![lessons[0].into()],
                },
                pb::SubjectLessons {
                    subject: "Tiếng Việt".into(),
                    lessons: vec![lessons[1].into()],
                },
            ],
        };
        client
            .publish_curriculum_plan(session::authorised(
                pb::PublishCurriculumPlanRequest {
                    request_id: rid(&format!("plan:{}:{monday}", first.id)),
                    class_id: first.id.clone(),
                    effective_from: monday.to_string(),
                    classification: Classification::Class as i32,
                    plan: Some(pb::CurriculumPlan {
                        weeks: vec![
                            week(
                                0,
                                ["Phép cộng trong phạm vi 10", "Bài 12: Ôn tập âm và chữ"],
                            ),
                            week(1, ["Phép trừ trong phạm vi 10", "Bài 13: Vần an, ăn, ân"]),
                        ],
                    }),
                },
                &teacher,
            )?)
            .await
            .context("1A1's curriculum plan")?;

        let meeting = client
            .publish_announcement(session::authorised(
                pb::PublishAnnouncementRequest {
                    request_id: rid(&format!("announcement:meeting:{school_id}")),
                    audience: Some(pb::Audience {
                        scope: Some(pb::audience::Scope::SchoolId(school_id.to_owned())),
                    }),
                    title: "Họp phụ huynh đầu năm".into(),
                    body: "Kính mời quý phụ huynh dự họp lúc 8 giờ sáng thứ Bảy tại lớp học của con. Xin quý phụ huynh xác nhận tham dự.".into(),
                    requires_ack: true,
                    scheduled_at: String::new(),
                    attachment_ids: Vec::new(),
                    ..Default::default()
                },
                principal,
            )?)
            .await
            .context("the parents' meeting")?
            .into_inner();
        client
            .acknowledge_announcement(session::authorised(
                pb::AnnouncementRef {
                    announcement_id: meeting.id,
                },
                &guardian,
            )?)
            .await
            .context("the demo guardian confirms the meeting")?;
        Ok(())
    }
}
