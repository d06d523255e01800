//! `lienlac.messaging.v1.MessagingService`: parse and validate, find the caller,
//! hand over to the conversations' use cases.

use kernel::auth::caller;
use kernel::grpc::{Check, Violation};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::messaging_service_server::MessagingService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::announcements::{self, Missing, NewAnnouncement};
use crate::attachments;
use crate::bulletins::{self, Content, NewBulletin, Subject, content};
use crate::conversations::read::{self, StateChange};
use crate::conversations::{self, NewMessage};
use crate::posts::read::{Listing, Page};
use crate::posts::rules::Policy;
use crate::posts::{self, Decision, Destination, Draft};
use crate::surveys::{self, NewSurvey};
use crate::{Ctx, delivery, live};

/// The longest message, in characters.
const MAX_BODY_CHARS: usize = 4_000;

pub(crate) struct Messaging {
    pub(crate) ctx: Ctx,
    pub(crate) feed: std::sync::Arc<live::Feed>,
}

impl Messaging {
    /// An announcement read, or read and confirmed, by its guardian.
    async fn mark_announcement(
        &self,
        request: Request<pb::AnnouncementRef>,
        acknowledge: bool,
    ) -> Result<Response<pb::AnnouncementState>, Status> {
        let caller = caller(&request)?;
        let mut check = Check::new();
        let id = check.uuid("announcement_id", &request.get_ref().announcement_id);
        check.done()?;
        Ok(Response::new(
            announcements::mark(&self.ctx, caller, id, acknowledge).await?,
        ))
    }
}

/// A page size: `requested` between 1 and `max`, or `default` for 0.
fn page(check: &mut Check, field: &str, requested: i32, default: i64, max: i64) -> i64 {
    match i64::from(requested) {
        0 => default,
        n if (1..=max).contains(&n) => n,
        _ => {
            check.add(kernel::grpc::Violation::new(
                field,
                format!("must be between 1 and {max}"),
                format!("phải từ 1 đến {max}"),
            ));
            default
        }
    }
}

/// Required text, printable, of at most `max` characters.
fn required_text(check: &mut Check, field: &str, text: &str, max: usize) -> String {
    let value = check.text(field, text, max);
    if text.trim().is_empty() {
        check.add(kernel::grpc::Violation::required(field));
    }
    value
}

/// A message's text: required, printable, at most [`MAX_BODY_CHARS`].
fn body(check: &mut Check, text: &str) -> String {
    required_text(check, "body", text, MAX_BODY_CHARS)
}

/// When a scheduled announcement shows: RFC 3339, at most 90 days ahead.
fn scheduled(check: &mut Check, text: &str) -> Option<time::OffsetDateTime> {
    if text.is_empty() {
        return None;
    }
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .filter(|at| *at <= time::OffsetDateTime::now_utc() + time::Duration::days(90));
    if at.is_none() {
        check.add(kernel::grpc::Violation::new(
            "scheduled_at",
            "must be an RFC 3339 time at most 90 days ahead",
            "phải là thời điểm RFC 3339 trong vòng 90 ngày tới",
        ));
    }
    at
}

/// A classification the client named: a known value, `Unspecified` allowed where
/// the school's default applies.
fn classification(
    check: &mut Check,
    field: &str,
    value: i32,
    unspecified_allowed: bool,
) -> pb::Classification {
    match pb::Classification::try_from(value) {
        Ok(pb::Classification::Unspecified) if !unspecified_allowed => {
            check.add(kernel::grpc::Violation::required(field));
            pb::Classification::Unspecified
        }
        Ok(known) => known,
        Err(_) => {
            check.add(kernel::grpc::Violation::new(
                field,
                "must be public, school, class or confidential",
                "phải là public, school, class hoặc confidential",
            ));
            pb::Classification::Unspecified
        }
    }
}

/// A list of people's ids of at most `max`.
fn people(check: &mut Check, field: &str, ids: &[String], max: usize) -> Vec<Uuid> {
    if !check.at_most(field, ids.len(), max) {
        return Vec::new();
    }
    let mut people: Vec<Uuid> = ids.iter().map(|id| check.uuid(field, id)).collect();
    people.sort_unstable();
    people.dedup();
    people
}

/// Ids of attachments to send, at most `max`, each once.
fn attachment_ids(check: &mut Check, ids: &[String], max: usize) -> Vec<Uuid> {
    if !check.at_most("attachment_ids", ids.len(), max) {
        return Vec::new();
    }
    let mut ids: Vec<Uuid> = ids
        .iter()
        .map(|id| check.uuid("attachment_ids", id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A post's revision as its author wrote it.
fn draft(
    check: &mut Check,
    title: &str,
    body: &str,
    requested: i32,
    recipients: &[String],
    attachments: &[String],
) -> Draft {
    Draft {
        title: required_text(check, "title", title, 200),
        body: required_text(check, "body", body, 10_000),
        classification: classification(check, "classification", requested, true),
        recipients: people(check, "recipient_ids", recipients, 1_000),
        attachments: attachment_ids(check, attachments, 20),
    }
}

/// A survey's questions: 1 to 30, each with a prompt and a kind; choice questions
/// with 2 to 20 options, the others with none.
fn questions(check: &mut Check, given: &[pb::Question]) -> Vec<pb::Question> {
    if given.is_empty() {
        check.add(kernel::grpc::Violation::required("questions"));
    }
    if !check.at_most("questions", given.len(), 30) {
        return Vec::new();
    }
    given
        .iter()
        .map(|question| {
            let kind = pb::QuestionKind::try_from(question.kind).unwrap_or_default();
            let choice = matches!(
                kind,
                pb::QuestionKind::SingleChoice | pb::QuestionKind::MultipleChoice
            );
            if kind == pb::QuestionKind::Unspecified {
                check.add(kernel::grpc::Violation::new(
                    "questions.kind",
                    "must be single choice, multiple choice, number or short text",
                    "phải là một lựa chọn, nhiều lựa chọn, số hoặc câu trả lời ngắn",
                ));
            }
            let options_fit = if choice {
                (2..=20).contains(&question.options.len())
            } else {
                question.options.is_empty()
            };
            if !options_fit {
                check.add(kernel::grpc::Violation::new(
                    "questions.options",
                    "a choice question has 2 to 20 options, the others none",
                    "câu hỏi lựa chọn có từ 2 đến 20 phương án, các loại khác không có",
                ));
            }
            pb::Question {
                prompt: required_text(check, "questions.prompt", &question.prompt, 500),
                kind: kind as i32,
                options: question
                    .options
                    .iter()
                    .take(20)
                    .map(|option| check.text("questions.options", option, 200))
                    .collect(),
                required: question.required,
            }
        })
        .collect()
}

/// A survey's deadline: empty for none, else an RFC 3339 time within a year ahead.
fn deadline(check: &mut Check, text: &str) -> Option<time::OffsetDateTime> {
    if text.is_empty() {
        return None;
    }
    let now = time::OffsetDateTime::now_utc();
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .filter(|at| *at > now && *at <= now + time::Duration::days(366));
    if at.is_none() {
        check.add(kernel::grpc::Violation::new(
            "deadline",
            "must be an RFC 3339 time in the coming year",
            "phải là thời điểm RFC 3339 trong vòng một năm tới",
        ));
    }
    at
}

/// The day a bulletin takes effect: within a year either way of today.
fn effective_from(check: &mut Check, text: &str) -> time::Date {
    let date = check.date("effective_from", text);
    let today = school::dates::local_today();
    if (date - today).whole_days().abs() > 366 {
        check.add(kernel::grpc::Violation::new(
            "effective_from",
            "must be within a year of today",
            "phải trong vòng một năm so với hôm nay",
        ));
    }
    date
}

impl Messaging {
    /// A bulletin's publication: the fields every kind has checked here, its
    /// content by `content`.
    async fn publish_bulletin<R: prost::Message + prost::Name>(
        &self,
        request: &Request<R>,
        request_id: &str,
        (scope_field, scope): (&str, &str),
        (from, requested): (&str, i32),
        content: impl FnOnce(&mut Check) -> Content,
    ) -> Result<Response<pb::Bulletin>, Status> {
        let caller = caller(request)?;
        let mut check = Check::new();
        let key = check.request_key(caller, request_id, request.get_ref());
        let new = NewBulletin {
            scope: check.uuid(scope_field, scope),
            effective_from: effective_from(&mut check, from),
            classification: classification(&mut check, "classification", requested, true),
            content: content(&mut check),
        };
        check.done()?;
        Ok(Response::new(
            bulletins::publish(&self.ctx, caller, key, new).await?,
        ))
    }

    async fn bulletin_in_force(
        &self,
        request: Request<pb::GetBulletinRequest>,
        kind: pb::BulletinKind,
    ) -> Result<Response<pb::Bulletin>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let student = check.optional_uuid("student_id", &r.student_id);
        let class = check.optional_uuid("class_id", &r.class_id);
        let school = check.optional_uuid("school_id", &r.school_id);
        let subject = match (student, class, school) {
            (Some(student), None, None) => Some(Subject::Student(student)),
            (None, Some(class), None) => Some(Subject::Class(class)),
            (None, None, Some(school)) => Some(Subject::School(school)),
            _ => {
                check.add(kernel::grpc::Violation::new(
                    "student_id",
                    "name one of a student, a class or a school",
                    "hãy chọn một học sinh, một lớp hoặc một trường",
                ));
                None
            }
        };
        let date = if r.date.is_empty() {
            school::dates::local_today()
        } else {
            check.date("date", &r.date)
        };
        check.done()?;
        let subject = subject.ok_or_else(|| Status::invalid_argument("student_id"))?;
        Ok(Response::new(
            bulletins::in_force(&self.ctx, caller, kind, subject, date).await?,
        ))
    }
}

#[tonic::async_trait]
impl MessagingService for Messaging {
    async fn list_inbox(
        &self,
        request: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let limit = page(&mut check, "limit", r.limit, 50, 100);
        check.done()?;
        Ok(Response::new(
            read::inbox(&self.ctx, caller, &r.cursor, limit).await?,
        ))
    }

    async fn start_direct_thread(
        &self,
        request: Request<pb::StartDirectThreadRequest>,
    ) -> Result<Response<pb::Conversation>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let person = check.uuid("person_id", &r.person_id);
        check.done()?;
        Ok(Response::new(
            conversations::start_direct(&self.ctx, caller, key, person).await?,
        ))
    }

    async fn post_message(
        &self,
        request: Request<pb::PostMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let conversation = check.uuid("conversation_id", &r.conversation_id);
        let body = body(&mut check, &r.body);
        let reply_to = check.optional_uuid("reply_to", &r.reply_to);
        let attachments = attachment_ids(&mut check, &r.attachment_ids, 10);
        check.done()?;
        let new = NewMessage {
            conversation,
            body,
            reply_to,
            attachments,
        };
        Ok(Response::new(
            conversations::post(&self.ctx, caller, key, new).await?,
        ))
    }

    async fn edit_message(
        &self,
        request: Request<pb::EditMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let message = check.uuid("message_id", &r.message_id);
        let body = body(&mut check, &r.body);
        check.done()?;
        Ok(Response::new(
            conversations::edit(&self.ctx, caller, key, message, body).await?,
        ))
    }

    async fn delete_message(
        &self,
        request: Request<pb::DeleteMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let message = check.uuid("message_id", &r.message_id);
        check.done()?;
        Ok(Response::new(
            conversations::delete(&self.ctx, caller, key, message).await?,
        ))
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let caller = caller(&request)?;
        let reader = school::peers::Reader::of(request.metadata())?;
        let r = request.get_ref();
        let mut check = Check::new();
        let conversation = check.uuid("conversation_id", &r.conversation_id);
        let limit = page(&mut check, "limit", r.limit, 50, 200);
        check.done()?;
        let mut messages =
            read::messages(&self.ctx, caller, conversation, r.before_seq, limit).await?;
        read::with_display_names(&self.ctx, &reader, &mut messages).await;
        Ok(Response::new(pb::ListMessagesResponse { messages }))
    }

    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> Result<Response<pb::ConversationState>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let conversation = check.uuid("conversation_id", &r.conversation_id);
        if r.seq < 0 {
            check.add(kernel::grpc::Violation::new(
                "seq",
                "must not be negative",
                "không được âm",
            ));
        }
        check.done()?;
        let change = StateChange::Read(r.seq);
        Ok(Response::new(
            read::set_state(&self.ctx, caller, conversation, change).await?,
        ))
    }

    async fn mute_conversation(
        &self,
        request: Request<pb::MuteConversationRequest>,
    ) -> Result<Response<pb::ConversationState>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let conversation = check.uuid("conversation_id", &r.conversation_id);
        check.done()?;
        let change = StateChange::Muted(r.muted);
        Ok(Response::new(
            read::set_state(&self.ctx, caller, conversation, change).await?,
        ))
    }

    async fn export_conversation(
        &self,
        request: Request<pb::ExportConversationRequest>,
    ) -> Result<Response<pb::ConversationExport>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let conversation = check.uuid("conversation_id", &r.conversation_id);
        let reason = required_text(&mut check, "reason", &r.reason, 500);
        check.done()?;
        Ok(Response::new(
            conversations::export::export(&self.ctx, caller, conversation, reason).await?,
        ))
    }

    async fn publish_announcement(
        &self,
        request: Request<pb::PublishAnnouncementRequest>,
    ) -> Result<Response<pb::Announcement>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let title = required_text(&mut check, "title", &r.title, 200);
        let body = required_text(&mut check, "body", &r.body, 10_000);
        let visible_at = scheduled(&mut check, &r.scheduled_at);
        let attachments = attachment_ids(&mut check, &r.attachment_ids, 10);
        let classification = classification(&mut check, "classification", r.classification, true);
        let audience = r.audience.clone().unwrap_or_default();
        if let Some(pb::audience::Scope::Guardians(chosen)) = &audience.scope {
            check.at_most(
                "audience.guardians.guardian_ids",
                chosen.guardian_ids.len(),
                1_000,
            );
        }
        check.done()?;
        let new = NewAnnouncement {
            audience,
            title,
            body,
            requires_ack: r.requires_ack,
            visible_at,
            attachments,
            classification,
            emergency: r.emergency,
        };
        Ok(Response::new(
            announcements::publish(&self.ctx, caller, key, new).await?,
        ))
    }

    async fn list_announcements(
        &self,
        request: Request<pb::ListAnnouncementsRequest>,
    ) -> Result<Response<pb::ListAnnouncementsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let limit = page(&mut check, "limit", r.limit, 50, 100);
        check.done()?;
        Ok(Response::new(
            announcements::list(&self.ctx, caller, &r.cursor, limit).await?,
        ))
    }

    async fn list_notices(
        &self,
        request: Request<pb::ListNoticesRequest>,
    ) -> Result<Response<pb::ListNoticesResponse>, Status> {
        let caller = caller(&request)?;
        let reader = school::peers::Reader::of(request.metadata())?;
        let r = request.get_ref();
        let mut check = Check::new();
        let limit = page(&mut check, "limit", r.limit, 20, 100);
        check.done()?;
        Ok(Response::new(
            crate::notices::list(&self.ctx, caller, &reader, &r.cursor, limit).await?,
        ))
    }

    async fn mark_notice_read(
        &self,
        request: Request<pb::NoticeRef>,
    ) -> Result<Response<pb::NoticeState>, Status> {
        let caller = caller(&request)?;
        let mut check = Check::new();
        let id = check.uuid("notice_id", &request.get_ref().notice_id);
        check.done()?;
        Ok(Response::new(
            crate::notices::mark_read(&self.ctx, caller, id).await?,
        ))
    }

    async fn list_notice_deliveries(
        &self,
        request: Request<pb::NoticeRef>,
    ) -> Result<Response<pb::ListNoticeDeliveriesResponse>, Status> {
        let caller = caller(&request)?;
        let mut check = Check::new();
        let id = check.uuid("notice_id", &request.get_ref().notice_id);
        check.done()?;
        Ok(Response::new(
            delivery::reports::of_notice(&self.ctx, caller, id).await?,
        ))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let school = check.uuid("school_id", &r.school_id);
        let limit = page(&mut check, "limit", r.limit, 50, 200);
        let state = match r.state.as_str() {
            "" => None,
            "queued" | "sent" | "delivered" | "read" | "failed" | "skipped" => {
                Some(r.state.clone())
            }
            _ => {
                check.add(Violation::new(
                    "state",
                    "one of queued, sent, delivered, read, failed, skipped",
                    "một trong các trạng thái queued, sent, delivered, read, failed, skipped",
                ));
                None
            }
        };
        check.done()?;
        Ok(Response::new(
            delivery::reports::of_school(&self.ctx, caller, school, state, &r.cursor, limit)
                .await?,
        ))
    }

    async fn get_delivery_costs(
        &self,
        request: Request<pb::GetDeliveryCostsRequest>,
    ) -> Result<Response<pb::DeliveryCosts>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let scope = match (r.school_id.is_empty(), r.district_id.is_empty()) {
            (false, true) => Some(delivery::reports::Scope::School(
                check.uuid("school_id", &r.school_id),
            )),
            (true, false) => Some(delivery::reports::Scope::District(
                check.uuid("district_id", &r.district_id),
            )),
            _ => {
                check.add(Violation::new(
                    "school_id",
                    "give either school_id or district_id",
                    "cần school_id hoặc district_id (một trong hai)",
                ));
                None
            }
        };
        let month = if r.month.is_empty() {
            kernel::dates::parse_month(&kernel::dates::month_of(school::dates::local_today()))
        } else {
            kernel::dates::parse_month(&r.month)
        };
        if month.is_none() {
            check.add(Violation::new("month", "YYYY-MM", "tháng dạng YYYY-MM"));
        }
        check.done()?;
        let (Some(scope), Some(month)) = (scope, month) else {
            return Err(Status::invalid_argument(
                "school_id or district_id, and a month",
            ));
        };
        let sms_price = self
            .ctx
            .delivery
            .as_ref()
            .map_or(i64::from(crate::config::DEFAULT_SMS_PRICE_VND), |enabled| {
                enabled.sms_price()
            });
        Ok(Response::new(
            delivery::reports::costs(&self.ctx, caller, scope, month, sms_price).await?,
        ))
    }

    async fn register_device(
        &self,
        request: Request<pb::RegisterDeviceRequest>,
    ) -> Result<Response<pb::Device>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let enabled = self.ctx.delivery.as_ref().ok_or_else(|| {
            Status::failed_precondition(
                "notices are delivered in the app only on this server (delivery is off)",
            )
        })?;
        let mut check = Check::new();
        let (channel, address, keys) = match pb::Channel::try_from(r.channel) {
            Ok(pb::Channel::Push) => {
                if !enabled.push_services.admits(&r.address) {
                    check.add(Violation::new(
                        "address",
                        "must be the endpoint of a browser's push service",
                        "phải là địa chỉ của dịch vụ đẩy thông báo của trình duyệt",
                    ));
                }
                let p256dh = devices_key(&mut check, "p256dh", &r.p256dh, 65);
                let auth = devices_key(&mut check, "auth", &r.auth, 16);
                (
                    delivery::Channel::Push,
                    r.address.clone(),
                    Some((p256dh, auth)),
                )
            }
            Ok(pb::Channel::Email) => {
                if !enabled.has(delivery::Channel::Email) {
                    return Err(Status::failed_precondition(
                        "email is off on this server (no SMTP server is configured)",
                    ));
                }
                let address = delivery::devices::email_address(&r.address).unwrap_or_else(|why| {
                    check.add(Violation::new("address", why, "địa chỉ email không hợp lệ"));
                    String::new()
                });
                (delivery::Channel::Email, address, None)
            }
            _ => {
                check.add(Violation::new(
                    "channel",
                    "devices are push subscriptions or email addresses",
                    "chỉ đăng ký trình duyệt (push) hoặc email",
                ));
                (delivery::Channel::Push, String::new(), None)
            }
        };
        check.done()?;
        Ok(Response::new(
            delivery::devices::register(&self.ctx, caller, channel, address, keys).await?,
        ))
    }

    async fn unregister_device(
        &self,
        request: Request<pb::UnregisterDeviceRequest>,
    ) -> Result<Response<pb::UnregisterDeviceResponse>, Status> {
        let caller = caller(&request)?;
        let mut check = Check::new();
        let id = check.uuid("device_id", &request.get_ref().device_id);
        check.done()?;
        delivery::devices::unregister(&self.ctx, caller, id).await?;
        Ok(Response::new(pb::UnregisterDeviceResponse {}))
    }

    async fn list_devices(
        &self,
        request: Request<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::ListDevicesResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            delivery::devices::list(&self.ctx, caller).await?,
        ))
    }

    async fn get_delivery_preferences(
        &self,
        request: Request<pb::GetDeliveryPreferencesRequest>,
    ) -> Result<Response<pb::DeliveryPreferences>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            delivery::devices::preferences(&self.ctx, caller).await?,
        ))
    }

    async fn set_delivery_preferences(
        &self,
        request: Request<pb::DeliveryPreferences>,
    ) -> Result<Response<pb::DeliveryPreferences>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let mut channels = Vec::new();
        for (i, number) in r.channels.iter().enumerate() {
            match i16::try_from(*number).ok().and_then(delivery::Channel::of) {
                Some(channel) if !channels.contains(&channel) => channels.push(channel),
                Some(_) => check.add(Violation::new(
                    &format!("channels[{i}]"),
                    "each channel once",
                    "mỗi kênh một lần",
                )),
                None => check.add(Violation::new(
                    &format!("channels[{i}]"),
                    "CHANNEL_PUSH, CHANNEL_EMAIL, CHANNEL_ZALO or CHANNEL_SMS",
                    "kênh không hợp lệ",
                )),
            }
        }
        check.done()?;
        Ok(Response::new(
            delivery::devices::set_preferences(&self.ctx, caller, channels, r.daily_digest).await?,
        ))
    }

    async fn get_push_key(
        &self,
        _request: Request<pb::GetPushKeyRequest>,
    ) -> Result<Response<pb::PushKey>, Status> {
        let enabled = self.ctx.delivery.as_ref().ok_or_else(|| {
            Status::failed_precondition("push is off on this server (delivery is off)")
        })?;
        Ok(Response::new(pb::PushKey {
            public_key: enabled.vapid.public.clone(),
        }))
    }

    async fn get_announcement(
        &self,
        request: Request<pb::AnnouncementRef>,
    ) -> Result<Response<pb::Announcement>, Status> {
        let caller = caller(&request)?;
        let mut check = Check::new();
        let id = check.uuid("announcement_id", &request.get_ref().announcement_id);
        check.done()?;
        Ok(Response::new(
            announcements::get(&self.ctx, caller, id).await?,
        ))
    }

    async fn mark_announcement_read(
        &self,
        request: Request<pb::AnnouncementRef>,
    ) -> Result<Response<pb::AnnouncementState>, Status> {
        self.mark_announcement(request, false).await
    }

    async fn acknowledge_announcement(
        &self,
        request: Request<pb::AnnouncementRef>,
    ) -> Result<Response<pb::AnnouncementState>, Status> {
        self.mark_announcement(request, true).await
    }

    async fn get_announcement_receipts(
        &self,
        request: Request<pb::GetAnnouncementReceiptsRequest>,
    ) -> Result<Response<pb::AnnouncementReceipts>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let id = check.uuid("announcement_id", &r.announcement_id);
        let limit = page(&mut check, "limit", r.limit, 200, 1_000);
        let after = check.optional_uuid("cursor", &r.cursor);
        let filter = pb::RecipientFilter::try_from(r.missing).unwrap_or_else(|_| {
            check.add(kernel::grpc::Violation::new(
                "missing",
                "must be one of the listed filters",
                "phải là một trong các bộ lọc cho phép",
            ));
            pb::RecipientFilter::Unspecified
        });
        check.done()?;
        let missing = Missing {
            filter,
            limit,
            after,
        };
        Ok(Response::new(
            announcements::receipts(&self.ctx, caller, id, missing).await?,
        ))
    }

    async fn get_school_policy(
        &self,
        request: Request<pb::GetSchoolPolicyRequest>,
    ) -> Result<Response<pb::SchoolPolicy>, Status> {
        let caller = caller(&request)?;
        let mut check = Check::new();
        let school = check.uuid("school_id", &request.get_ref().school_id);
        check.done()?;
        Ok(Response::new(
            posts::policy::get(&self.ctx, caller, school).await?,
        ))
    }

    async fn set_school_policy(
        &self,
        request: Request<pb::SetSchoolPolicyRequest>,
    ) -> Result<Response<pb::SchoolPolicy>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let given = r.policy.clone().unwrap_or_default();
        let school = check.uuid("policy.school_id", &given.school_id);
        let mut allowed: Vec<pb::Classification> = given
            .allowed
            .iter()
            .map(|c| classification(&mut check, "policy.allowed", *c, false))
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        if allowed.is_empty() {
            check.add(kernel::grpc::Violation::required("policy.allowed"));
        }
        let default = classification(
            &mut check,
            "policy.default_classification",
            given.default_classification,
            false,
        );
        if !allowed.is_empty() && !allowed.contains(&default) {
            check.add(kernel::grpc::Violation::new(
                "policy.default_classification",
                "must be one of the allowed classifications",
                "phải là một trong các mức phân loại được phép",
            ));
        }
        let policy = Policy {
            allowed,
            default,
            trusted: people(
                &mut check,
                "policy.trusted_staff_ids",
                &given.trusted_staff_ids,
                200,
            ),
            moderators: people(&mut check, "policy.moderator_ids", &given.moderator_ids, 20),
            public_feed: given.public_feed,
            notify_late: given.notify_late,
            paid_channels: paid_channels(&mut check, &given.paid_channels),
            fallback_minutes: match given.fallback_minutes {
                0 => posts::rules::DEFAULT_FALLBACK_MINUTES,
                minutes @ 1..=240 => minutes,
                _ => {
                    check.add(Violation::new(
                        "policy.fallback_minutes",
                        "from 1 to 240 minutes (0 for the default 15)",
                        "từ 1 đến 240 phút (0: mặc định 15 phút)",
                    ));
                    posts::rules::DEFAULT_FALLBACK_MINUTES
                }
            },
        };
        check.done()?;
        Ok(Response::new(
            posts::policy::set(&self.ctx, caller, key, school, policy).await?,
        ))
    }

    async fn submit_post(
        &self,
        request: Request<pb::SubmitPostRequest>,
    ) -> Result<Response<pb::Post>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let school = check.optional_uuid("school_id", &r.school_id);
        let class = check.optional_uuid("class_id", &r.class_id);
        let destination = match (school, class) {
            (Some(school), None) => Some(Destination::School(school)),
            (None, Some(class)) => Some(Destination::Class(class)),
            _ => {
                check.add(kernel::grpc::Violation::new(
                    "school_id",
                    "name either a school or a class",
                    "hãy chọn một trường hoặc một lớp",
                ));
                None
            }
        };
        let draft = draft(
            &mut check,
            &r.title,
            &r.body,
            r.classification,
            &r.recipient_ids,
            &r.attachment_ids,
        );
        check.done()?;
        let destination = destination.ok_or_else(|| Status::invalid_argument("school_id"))?;
        Ok(Response::new(
            posts::submit(&self.ctx, caller, key, destination, draft).await?,
        ))
    }

    async fn edit_post(
        &self,
        request: Request<pb::EditPostRequest>,
    ) -> Result<Response<pb::Post>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let post = check.uuid("post_id", &r.post_id);
        let draft = draft(
            &mut check,
            &r.title,
            &r.body,
            r.classification,
            &r.recipient_ids,
            &r.attachment_ids,
        );
        check.done()?;
        Ok(Response::new(
            posts::edit(&self.ctx, caller, key, post, draft).await?,
        ))
    }

    async fn moderate_post(
        &self,
        request: Request<pb::ModeratePostRequest>,
    ) -> Result<Response<pb::Post>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let post = check.uuid("post_id", &r.post_id);
        if r.revision < 1 {
            check.add(kernel::grpc::Violation::new(
                "revision",
                "must be the revision you read (1 or more)",
                "phải là phiên bản bạn đã đọc (từ 1)",
            ));
        }
        let reason = if r.approve && r.reason.trim().is_empty() {
            String::new()
        } else {
            check.text("reason", &r.reason, 500)
        };
        check.done()?;
        let decision = Decision {
            revision: r.revision,
            approve: r.approve,
            reason,
        };
        Ok(Response::new(
            posts::moderate(&self.ctx, caller, key, post, decision).await?,
        ))
    }

    async fn list_moderation_queue(
        &self,
        request: Request<pb::ListModerationQueueRequest>,
    ) -> Result<Response<pb::ListPostsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let school = check.uuid("school_id", &r.school_id);
        let limit = page(&mut check, "limit", r.limit, 50, 100);
        check.done()?;
        let page = Page {
            cursor: &r.cursor,
            limit,
        };
        Ok(Response::new(
            posts::read::list(&self.ctx, caller, school, Listing::Queue, page).await?,
        ))
    }

    async fn list_posts(
        &self,
        request: Request<pb::ListPostsRequest>,
    ) -> Result<Response<pb::ListPostsResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let school = check.uuid("school_id", &r.school_id);
        let class = check.optional_uuid("class_id", &r.class_id);
        let limit = page(&mut check, "limit", r.limit, 20, 100);
        check.done()?;
        let listing = if r.mine {
            Listing::Mine
        } else {
            Listing::Published { class }
        };
        let page = Page {
            cursor: &r.cursor,
            limit,
        };
        Ok(Response::new(
            posts::read::list(&self.ctx, caller, school, listing, page).await?,
        ))
    }

    async fn get_post(
        &self,
        request: Request<pb::GetPostRequest>,
    ) -> Result<Response<pb::Post>, Status> {
        let caller = caller(&request)?;
        let mut check = Check::new();
        let post = check.uuid("post_id", &request.get_ref().post_id);
        check.done()?;
        Ok(Response::new(
            posts::read::get(&self.ctx, caller, post).await?,
        ))
    }

    async fn list_public_posts(
        &self,
        request: Request<pb::ListPublicPostsRequest>,
    ) -> Result<Response<pb::ListPostsResponse>, Status> {
        let r = request.get_ref();
        let mut check = Check::new();
        let school = check.uuid("school_id", &r.school_id);
        let limit = page(&mut check, "limit", r.limit, 20, 100);
        check.done()?;
        let page = Page {
            cursor: &r.cursor,
            limit,
        };
        Ok(Response::new(
            posts::read::public(&self.ctx, school, page).await?,
        ))
    }

    async fn publish_timetable(
        &self,
        request: Request<pb::PublishTimetableRequest>,
    ) -> Result<Response<pb::Bulletin>, Status> {
        let r = request.get_ref();
        self.publish_bulletin(
            &request,
            &r.request_id,
            ("class_id", &r.class_id),
            (&r.effective_from, r.classification),
            |check| Content::Timetable(content::timetable(check, r.timetable.as_ref())),
        )
        .await
    }

    async fn publish_menu(
        &self,
        request: Request<pb::PublishMenuRequest>,
    ) -> Result<Response<pb::Bulletin>, Status> {
        let r = request.get_ref();
        self.publish_bulletin(
            &request,
            &r.request_id,
            ("school_id", &r.school_id),
            (&r.effective_from, r.classification),
            |check| Content::Menu(content::menu(check, r.menu.as_ref())),
        )
        .await
    }

    async fn publish_curriculum_plan(
        &self,
        request: Request<pb::PublishCurriculumPlanRequest>,
    ) -> Result<Response<pb::Bulletin>, Status> {
        let r = request.get_ref();
        self.publish_bulletin(
            &request,
            &r.request_id,
            ("class_id", &r.class_id),
            (&r.effective_from, r.classification),
            |check| Content::Plan(content::plan(check, r.plan.as_ref())),
        )
        .await
    }

    async fn get_timetable(
        &self,
        request: Request<pb::GetBulletinRequest>,
    ) -> Result<Response<pb::Bulletin>, Status> {
        self.bulletin_in_force(request, pb::BulletinKind::Timetable)
            .await
    }

    async fn get_menu(
        &self,
        request: Request<pb::GetBulletinRequest>,
    ) -> Result<Response<pb::Bulletin>, Status> {
        self.bulletin_in_force(request, pb::BulletinKind::Menu)
            .await
    }

    async fn get_curriculum_plan(
        &self,
        request: Request<pb::GetBulletinRequest>,
    ) -> Result<Response<pb::Bulletin>, Status> {
        self.bulletin_in_force(request, pb::BulletinKind::CurriculumPlan)
            .await
    }

    async fn create_survey(
        &self,
        request: Request<pb::CreateSurveyRequest>,
    ) -> Result<Response<pb::Survey>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let description = if r.description.trim().is_empty() {
            String::new()
        } else {
            check.text("description", &r.description, 4_000)
        };
        let new = NewSurvey {
            audience: r.audience.clone().unwrap_or_default(),
            title: required_text(&mut check, "title", &r.title, 200),
            description,
            questions: questions(&mut check, &r.questions),
            deadline: deadline(&mut check, &r.deadline),
            per_child: r.per_child,
        };
        check.done()?;
        Ok(Response::new(
            surveys::create(&self.ctx, caller, key, new).await?,
        ))
    }

    async fn list_surveys(
        &self,
        request: Request<pb::ListSurveysRequest>,
    ) -> Result<Response<pb::ListSurveysResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let limit = page(&mut check, "limit", r.limit, 20, 100);
        check.done()?;
        Ok(Response::new(
            surveys::list(&self.ctx, caller, &r.cursor, limit).await?,
        ))
    }

    async fn answer_survey(
        &self,
        request: Request<pb::AnswerSurveyRequest>,
    ) -> Result<Response<pb::SurveyAnswer>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let key = check.request_key(caller, &r.request_id, r);
        let survey = check.uuid("survey_id", &r.survey_id);
        let student = check.optional_uuid("student_id", &r.student_id);
        check.at_most("answers", r.answers.len(), 30);
        check.done()?;
        Ok(Response::new(
            surveys::answer(&self.ctx, caller, key, survey, student, r.answers.clone()).await?,
        ))
    }

    async fn get_survey_results(
        &self,
        request: Request<pb::GetSurveyResultsRequest>,
    ) -> Result<Response<pb::SurveyResults>, Status> {
        let caller = caller(&request)?;
        let mut check = Check::new();
        let survey = check.uuid("survey_id", &request.get_ref().survey_id);
        check.done()?;
        Ok(Response::new(
            surveys::results(&self.ctx, caller, survey).await?,
        ))
    }

    async fn export_survey_results(
        &self,
        request: Request<pb::GetSurveyResultsRequest>,
    ) -> Result<Response<pb::SurveyExport>, Status> {
        let caller = caller(&request)?;
        let reader = school::peers::Reader::of(request.metadata())?;
        let mut check = Check::new();
        let survey = check.uuid("survey_id", &request.get_ref().survey_id);
        check.done()?;
        Ok(Response::new(
            surveys::export::export(&self.ctx, caller, &reader, survey).await?,
        ))
    }

    async fn upload_attachment(
        &self,
        request: Request<tonic::Streaming<pb::UploadAttachmentChunk>>,
    ) -> Result<Response<pb::Attachment>, Status> {
        let caller = caller(&request)?.clone();
        let mut chunks = request.into_inner();
        let first = chunks.message().await?;
        let Some(pb::upload_attachment_chunk::Part::Header(header)) = first.and_then(|c| c.part)
        else {
            return Err(Status::invalid_argument(
                "the first chunk is the header: the school and the file's name",
            ));
        };
        let mut check = Check::new();
        let school = check.uuid("header.school_id", &header.school_id);
        let file_name = required_text(&mut check, "header.file_name", &header.file_name, 200);
        check.done()?;
        let max = self.ctx.attachment_max_bytes;
        let mut bytes = Vec::new();
        while let Some(chunk) = chunks.message().await? {
            match chunk.part {
                Some(pb::upload_attachment_chunk::Part::Data(data)) => {
                    if bytes.len() + data.len() > max {
                        return Err(Status::invalid_argument(format!(
                            "the file is larger than {} MB",
                            max / (1024 * 1024)
                        )));
                    }
                    bytes.extend_from_slice(&data);
                }
                _ => return Err(Status::invalid_argument("only one header, first")),
            }
        }
        let upload = attachments::Upload {
            school,
            file_name,
            bytes,
        };
        Ok(Response::new(
            attachments::upload(&self.ctx, &caller, upload).await?,
        ))
    }

    type DownloadAttachmentStream =
        futures::stream::BoxStream<'static, Result<pb::AttachmentChunk, Status>>;

    async fn create_download_link(
        &self,
        request: Request<pb::DownloadAttachmentRequest>,
    ) -> Result<Response<pb::DownloadLink>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let id = check.uuid("attachment_id", &r.attachment_id);
        check.done()?;
        Ok(Response::new(
            attachments::link(&self.ctx, caller, id, r.thumbnail).await?,
        ))
    }

    async fn download_attachment(
        &self,
        request: Request<pb::DownloadAttachmentRequest>,
    ) -> Result<Response<Self::DownloadAttachmentStream>, Status> {
        use futures::StreamExt as _;
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let id = check.uuid("attachment_id", &r.attachment_id);
        check.done()?;
        let (attachment, bytes) = attachments::download(&self.ctx, caller, id, r.thumbnail).await?;
        let head = futures::stream::once(async move {
            Ok(pb::AttachmentChunk {
                attachment: Some(attachment),
                data: Vec::new(),
            })
        });
        let body = bytes.map(|chunk| {
            chunk
                .map(|data| pb::AttachmentChunk {
                    attachment: None,
                    data: data.to_vec(),
                })
                .map_err(Status::from)
        });
        Ok(Response::new(head.chain(body).boxed()))
    }

    type SubscribeStream = tokio_stream::wrappers::ReceiverStream<Result<pb::Update, Status>>;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let caller = caller(&request)?.clone();
        let reader = school::peers::Reader::of(request.metadata())?;
        let cursor = &request.get_ref().cursor;
        let from = if cursor.is_empty() {
            None
        } else {
            Some(live::decode(cursor)?)
        };
        let updates =
            live::subscribe(self.ctx.clone(), self.feed.clone(), caller, reader, from).await?;
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            updates,
        )))
    }

    async fn rebuild_write_model(
        &self,
        request: Request<pb::RebuildWriteModelRequest>,
    ) -> Result<Response<pb::WriteModelRebuilt>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            crate::write_model::rebuild(&self.ctx.pool, caller).await?,
        ))
    }
}

/// A push subscription key, checked into `check`.
fn devices_key(check: &mut Check, field: &str, text: &str, length: usize) -> Vec<u8> {
    delivery::devices::push_key(field, text, length).unwrap_or_else(|why| {
        check.add(Violation::new(
            field,
            why,
            "khóa đăng ký đẩy thông báo không hợp lệ",
        ));
        Vec::new()
    })
}

/// The paid channels a school pays for, each once.
fn paid_channels(check: &mut Check, given: &[i32]) -> Vec<i16> {
    let mut channels: Vec<i16> = Vec::new();
    for &channel in given {
        match pb::Channel::try_from(channel) {
            Ok(pb::Channel::Zalo | pb::Channel::Sms) => {
                let channel = channel as i16;
                if !channels.contains(&channel) {
                    channels.push(channel);
                }
            }
            _ => check.add(Violation::new(
                "policy.paid_channels",
                "the paid channels are CHANNEL_ZALO and CHANNEL_SMS",
                "kênh trả phí chỉ gồm Zalo và SMS",
            )),
        }
    }
    channels
}
