//! `lienlac inbox`, `lienlac message` and `lienlac announce`: the school's
//! conversations and announcements from a terminal.

use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::audience::Scope;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::credentials::Credentials;
use crate::directory::{self, Directory};
use crate::{dates, session};

pub(crate) struct Messaging {
    pub(crate) url: String,
    pub(crate) json: bool,
}

/// What an announcement asks of its guardians and of delivery.
pub(crate) struct Asks {
    /// Each guardian confirms it.
    pub(crate) confirm: bool,
    /// An emergency: at once whatever the hour, and by SMS while unread.
    pub(crate) emergency: bool,
}

/// Whom an announcement goes to, as the command line names it.
pub(crate) enum Audience {
    /// A class of the caller's school, by name or id.
    Class(String),
    School,
    District,
}

fn kind_name(kind: i32) -> &'static str {
    match pb::ConversationKind::try_from(kind) {
        Ok(pb::ConversationKind::Class) => "class group",
        Ok(pb::ConversationKind::SchoolStaff) => "staff group",
        Ok(pb::ConversationKind::Direct) => "direct",
        _ => "?",
    }
}

impl Messaging {
    pub(crate) async fn client(&self) -> anyhow::Result<MessagingServiceClient<Channel>> {
        Ok(MessagingServiceClient::new(
            session::connect(&self.url).await?,
        ))
    }

    /// A conversation id: an id as given, or a class group by the class's name.
    async fn conversation(credentials: &Credentials, named: &str) -> anyhow::Result<String> {
        Directory::connect(credentials)
            .await?
            .class_id(named, &dates::today())
            .await
    }

    pub(crate) async fn inbox(&self) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let page = self
            .client()
            .await?
            .list_inbox(session::authorised(
                pb::ListInboxRequest::default(),
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&page)?);
            return Ok(());
        }
        println!(
            "{:<36}  {:<12} {:>7}  last message",
            "conversation", "kind", "unread"
        );
        for entry in page.entries {
            let (conversation, state) = (
                entry.conversation.unwrap_or_default(),
                entry.state.unwrap_or_default(),
            );
            let muted = if state.muted { "  (muted)" } else { "" };
            println!(
                "{:<36}  {:<12} {:>7}  {}{muted}",
                conversation.id,
                kind_name(conversation.kind),
                state.unread,
                if conversation.last_message_at.is_empty() {
                    "-"
                } else {
                    &conversation.last_message_at
                },
            );
        }
        Ok(())
    }

    /// The guardian's absence notices, newest first.
    pub(crate) async fn notices(&self) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let page = self
            .client()
            .await?
            .list_notices(session::authorised(
                pb::ListNoticesRequest::default(),
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&page)?);
            return Ok(());
        }
        if page.notices.is_empty() {
            println!("no notices");
        }
        for notice in page.notices {
            println!("{}  {}", notice.created_at, notice.text);
        }
        Ok(())
    }

    pub(crate) async fn send(&self, to: &str, text: String) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let conversation_id = Self::conversation(&credentials, to).await?;
        let message = self
            .client()
            .await?
            .post_message(session::authorised(
                pb::PostMessageRequest {
                    request_id: Uuid::now_v7().to_string(),
                    conversation_id,
                    body: text,
                    reply_to: String::new(),
                    attachment_ids: Vec::new(),
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&message)?);
        } else {
            println!(
                "sent: message {} in {}",
                message.seq, message.conversation_id
            );
        }
        Ok(())
    }

    pub(crate) async fn list(&self, conversation: &str) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let conversation_id = Self::conversation(&credentials, conversation).await?;
        let mut client = self.client().await?;
        let mut messages = client
            .list_messages(session::authorised(
                pb::ListMessagesRequest {
                    conversation_id: conversation_id.clone(),
                    ..Default::default()
                },
                &credentials,
            )?)
            .await?
            .into_inner()
            .messages;
        if let Some(last) = messages.first() {
            client
                .mark_read(session::authorised(
                    pb::MarkReadRequest {
                        conversation_id,
                        seq: last.seq,
                    },
                    &credentials,
                )?)
                .await?;
        }
        messages.reverse();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&messages)?);
            return Ok(());
        }
        for message in messages {
            let text = if message.deleted_at.is_empty() {
                message.body.as_str()
            } else {
                "(deleted)"
            };
            let edited = if message.edited_at.is_empty() {
                ""
            } else {
                " (edited)"
            };
            println!(
                "#{:<4} {}  {}: {}{edited}",
                message.seq, message.posted_at, message.author_display_name, text
            );
        }
        Ok(())
    }

    pub(crate) async fn announce(
        &self,
        audience: Audience,
        (title, body): (&str, &str),
        asks: Asks,
        classification: pb::Classification,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let directory = Directory::connect(&credentials).await?;
        let scope = match audience {
            Audience::Class(class) => {
                Scope::ClassId(directory.class_id(&class, &dates::today()).await?)
            }
            Audience::School => {
                Scope::SchoolId(directory.own_scope(directory::Scope::School).await?)
            }
            Audience::District => {
                Scope::DistrictId(directory.own_scope(directory::Scope::District).await?)
            }
        };
        let announcement = self
            .client()
            .await?
            .publish_announcement(session::authorised(
                pb::PublishAnnouncementRequest {
                    request_id: Uuid::now_v7().to_string(),
                    audience: Some(pb::Audience { scope: Some(scope) }),
                    title: title.to_owned(),
                    body: body.to_owned(),
                    requires_ack: asks.confirm,
                    emergency: asks.emergency,
                    classification: classification as i32,
                    ..Default::default()
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&announcement)?);
        } else {
            println!(
                "announcement {} sent to {} guardians",
                announcement.id, announcement.recipients
            );
        }
        Ok(())
    }

    pub(crate) async fn announcements(&self) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let page = self
            .client()
            .await?
            .list_announcements(session::authorised(
                pb::ListAnnouncementsRequest::default(),
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&page)?);
            return Ok(());
        }
        for entry in page.entries {
            let (announcement, state) = (
                entry.announcement.unwrap_or_default(),
                entry.state.unwrap_or_default(),
            );
            let status = match (
                announcement.requires_ack,
                state.read_at.is_empty(),
                state.acknowledged_at.is_empty(),
            ) {
                (true, _, false) => "confirmed",
                (true, _, true) => "please confirm",
                (false, true, _) => "new",
                (false, false, _) => "read",
            };
            println!(
                "{}  {}  [{status}]\n  {}",
                announcement.id, announcement.title, announcement.body
            );
        }
        Ok(())
    }

    /// A guardian reads an announcement, and confirms it with `confirm`.
    pub(crate) async fn read(&self, announcement_id: String, confirm: bool) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let mut client = self.client().await?;
        let reference = pb::AnnouncementRef { announcement_id };
        let state = if confirm {
            client
                .acknowledge_announcement(session::authorised(reference, &credentials)?)
                .await?
        } else {
            client
                .mark_announcement_read(session::authorised(reference, &credentials)?)
                .await?
        }
        .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&state)?);
        } else if confirm {
            println!("confirmed");
        } else {
            println!("read");
        }
        Ok(())
    }

    pub(crate) async fn receipts(
        &self,
        announcement_id: String,
        missing: pb::RecipientFilter,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let receipts = self
            .client()
            .await?
            .get_announcement_receipts(session::authorised(
                pb::GetAnnouncementReceiptsRequest {
                    announcement_id,
                    missing: missing as i32,
                    limit: 1_000,
                    cursor: String::new(),
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&receipts)?);
            return Ok(());
        }
        println!(
            "{} of {} guardians read, {} confirmed ({} delivered)",
            receipts.read, receipts.recipients, receipts.acknowledged, receipts.delivered
        );
        for guardian in receipts.guardian_ids {
            println!("  {guardian}");
        }
        Ok(())
    }
}
