//! `lienlac post` and `lienlac moderate`: school and class news, and the
//! principal's moderation queue.

use lienlac_proto::messaging::v1 as pb;
use uuid::Uuid;

use crate::directory::{self, Directory};
use crate::messaging::Messaging;
use crate::{dates, session};

fn status_name(status: i32) -> &'static str {
    match pb::PostStatus::try_from(status) {
        Ok(pb::PostStatus::Pending) => "waiting for a moderator",
        Ok(pb::PostStatus::Published) => "published",
        Ok(pb::PostStatus::Rejected) => "rejected",
        _ => "?",
    }
}

fn print_post(post: &pb::Post) {
    let shown = post.latest.as_ref().or(post.published.as_ref());
    let (title, body, revision) = shown
        .map(|r| (r.title.as_str(), r.body.as_str(), r.revision))
        .unwrap_or_default();
    println!(
        "{}  {title}  [revision {revision}, {}]",
        post.id,
        status_name(post.status)
    );
    for line in body.lines() {
        println!("  {line}");
    }
    for file in &post.attachments {
        println!(
            "  [{}: {}, {} KB, attachment {}]",
            file.file_name,
            file.content_type,
            (file.size + 1023) / 1024,
            file.id
        );
    }
    for decision in &post.decisions {
        let what = if decision.approved {
            "approved"
        } else {
            "rejected"
        };
        let automatic = if decision.automatic { " (trusted)" } else { "" };
        println!(
            "  - revision {} {what}{automatic} {}  {}",
            decision.revision, decision.decided_at, decision.reason
        );
    }
}

impl Messaging {
    pub(crate) async fn submit_post(
        &self,
        class: Option<&str>,
        title: String,
        body: String,
        classification: pb::Classification,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let directory = Directory::connect(&credentials).await?;
        let (school_id, class_id) = match class {
            Some(class) => (
                String::new(),
                directory.class_id(class, &dates::today()).await?,
            ),
            None => (
                directory.own_scope(directory::Scope::School).await?,
                String::new(),
            ),
        };
        let post = self
            .client()
            .await?
            .submit_post(session::authorised(
                pb::SubmitPostRequest {
                    request_id: Uuid::now_v7().to_string(),
                    school_id,
                    class_id,
                    title,
                    body,
                    classification: classification as i32,
                    recipient_ids: Vec::new(),
                    attachment_ids: Vec::new(),
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&post)?);
        } else {
            println!("post {}: {}", post.id, status_name(post.status));
        }
        Ok(())
    }

    pub(crate) async fn posts(&self, class: Option<&str>, mine: bool) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let directory = Directory::connect(&credentials).await?;
        let school_id = directory.own_scope(directory::Scope::School).await?;
        let class_id = match class {
            Some(class) => directory.class_id(class, &dates::today()).await?,
            None => String::new(),
        };
        let page = self
            .client()
            .await?
            .list_posts(session::authorised(
                pb::ListPostsRequest {
                    school_id,
                    class_id,
                    mine,
                    ..Default::default()
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        self.print_posts(&page)
    }

    fn print_posts(&self, page: &pb::ListPostsResponse) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(page)?);
            return Ok(());
        }
        if page.posts.is_empty() {
            println!("no posts");
        }
        page.posts.iter().for_each(print_post);
        Ok(())
    }

    pub(crate) async fn moderation_queue(&self) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let school_id = Directory::connect(&credentials)
            .await?
            .own_scope(directory::Scope::School)
            .await?;
        let page = self
            .client()
            .await?
            .list_moderation_queue(session::authorised(
                pb::ListModerationQueueRequest {
                    school_id,
                    ..Default::default()
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        self.print_posts(&page)
    }

    /// Approves or rejects the post's latest revision, as read now.
    pub(crate) async fn moderate(
        &self,
        post_id: String,
        approve: bool,
        reason: String,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let mut client = self.client().await?;
        let read = client
            .get_post(session::authorised(
                pb::GetPostRequest {
                    post_id: post_id.clone(),
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        let revision = read
            .latest
            .map(|latest| latest.revision)
            .unwrap_or_default();
        let post = client
            .moderate_post(session::authorised(
                pb::ModeratePostRequest {
                    request_id: Uuid::now_v7().to_string(),
                    post_id,
                    revision,
                    approve,
                    reason,
                },
                &credentials,
            )?)
            .await?
            .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&post)?);
        } else {
            println!(
                "post {} revision {revision}: {}",
                post.id,
                status_name(post.status)
            );
        }
        Ok(())
    }
}
