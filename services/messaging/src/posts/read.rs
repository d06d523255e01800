//! Reading posts, each read filtered by the classification rules (rules.rs
//! `visibility`, applied by visibility.rs): a school's or a class's published posts,
//! one post, the moderation queue, the author's own posts and the public feed.

use kernel::auth::Caller;
use kernel::error::{AppError, AppResult};
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::{Classification, PostStatus};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rules;
use super::{SchoolOf, policy, standing};
use crate::attachments;
use crate::visibility::{self, Columns};
use crate::{Ctx, cursor};

/// The columns of a post the classification filter reads: its published revision's.
const PUBLISHED: Columns = Columns {
    classification: "p.published_classification",
    class: "p.class_id",
    recipients: "p.published_recipients",
    author: "p.author_person_id",
};

#[derive(sqlx::FromRow)]
pub(crate) struct PostRow {
    pub(crate) id: Uuid,
    pub(crate) district_id: Uuid,
    pub(crate) school_id: Uuid,
    pub(crate) class_id: Option<Uuid>,
    pub(crate) author_account_id: Uuid,
    author_person_id: Option<Uuid>,
    pub(crate) status: String,
    pub(crate) revision: i32,
    title: String,
    body: String,
    pub(crate) classification: String,
    recipients: Vec<Uuid>,
    submitted_at: OffsetDateTime,
    published_revision: Option<i32>,
    published_title: Option<String>,
    published_body: Option<String>,
    published_classification: Option<String>,
    published_recipients: Option<Vec<Uuid>>,
    published_submitted_at: Option<OffsetDateTime>,
    first_published_at: Option<OffsetDateTime>,
}

const POST_COLUMNS: &str = "p.id, p.district_id, p.school_id, p.class_id, p.author_account_id, \
    p.author_person_id, p.status, p.revision, p.title, p.body, p.classification, p.recipients, \
    p.submitted_at, p.published_revision, p.published_title, p.published_body, \
    p.published_classification, p.published_recipients, p.published_submitted_at, p.first_published_at";

/// How much of a post a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// Its published revision, and who wrote it.
    Reader,
    /// The published revision without its author: the public feed.
    Anonymous,
    /// The latest revision too, and the confidential recipients.
    Full,
}

fn classification(name: &str) -> i32 {
    Classification::from_str_name(name).unwrap_or_default() as i32
}

fn strings(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

impl PostRow {
    fn view(self, view: View) -> pb::Post {
        let full = view == View::Full;
        let published = self.published_revision.map(|revision| pb::PostRevision {
            revision,
            title: self.published_title.unwrap_or_default(),
            body: self.published_body.unwrap_or_default(),
            classification: classification(
                self.published_classification.as_deref().unwrap_or_default(),
            ),
            recipient_ids: if full {
                strings(&self.published_recipients.unwrap_or_default())
            } else {
                Vec::new()
            },
            submitted_at: self
                .published_submitted_at
                .map(kernel::dates::rfc3339)
                .unwrap_or_default(),
        });
        let latest = full.then(|| pb::PostRevision {
            revision: self.revision,
            title: self.title,
            body: self.body,
            classification: classification(&self.classification),
            recipient_ids: strings(&self.recipients),
            submitted_at: kernel::dates::rfc3339(self.submitted_at),
        });
        // Readers see the approved revision, and nothing of the ones after it.
        let status = match (view, self.status.as_str()) {
            (View::Reader | View::Anonymous, _) | (View::Full, "published") => {
                PostStatus::Published
            }
            (View::Full, "pending") => PostStatus::Pending,
            (View::Full, _) => PostStatus::Rejected,
        };
        let anonymous = view == View::Anonymous;
        pb::Post {
            id: self.id.to_string(),
            school_id: self.school_id.to_string(),
            class_id: self.class_id.map(|c| c.to_string()).unwrap_or_default(),
            author_account_id: if anonymous {
                String::new()
            } else {
                self.author_account_id.to_string()
            },
            author_person_id: match (anonymous, self.author_person_id) {
                (false, Some(person)) => person.to_string(),
                _ => String::new(),
            },
            status: status as i32,
            published,
            published_at: self
                .first_published_at
                .map(kernel::dates::rfc3339)
                .unwrap_or_default(),
            latest,
            decisions: Vec::new(),
            attachments: Vec::new(),
        }
    }
}

pub(crate) async fn row(conn: &mut PgConnection, id: Uuid) -> AppResult<PostRow> {
    let sql = format!("SELECT {POST_COLUMNS} FROM posts p WHERE p.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("post"))
}

async fn decisions(conn: &mut PgConnection, post: Uuid) -> AppResult<Vec<pb::PostDecision>> {
    let rows: Vec<(i32, bool, String, Uuid, OffsetDateTime, bool)> = sqlx::query_as(
        "SELECT revision, approved, reason, decided_by, decided_at, automatic \
         FROM post_decisions WHERE post_id = $1 ORDER BY decided_at, revision",
    )
    .bind(post)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(revision, approved, reason, decided_by, at, automatic)| pb::PostDecision {
                revision,
                approved,
                reason,
                decided_by: decided_by.to_string(),
                decided_at: kernel::dates::rfc3339(at),
                automatic,
            },
        )
        .collect())
}

/// The post as its author and the moderators see it, with every decision.
pub(crate) async fn as_author(conn: &mut PgConnection, id: Uuid) -> AppResult<pb::Post> {
    let mut post = row(conn, id).await?.view(View::Full);
    post.decisions = decisions(conn, id).await?;
    with_attachments(conn, std::slice::from_mut(&mut post)).await?;
    Ok(post)
}

/// Fills in the posts' attachments: with the full view all, else those of the
/// approved revision and before.
async fn with_attachments(conn: &mut PgConnection, posts: &mut [pb::Post]) -> AppResult<()> {
    let ids: Vec<Uuid> = posts.iter().filter_map(|p| p.id.parse().ok()).collect();
    for (post_id, revision, row) in attachments::of_posts(conn, &ids).await? {
        let id = post_id.to_string();
        let Some(post) = posts.iter_mut().find(|p| p.id == id) else {
            continue;
        };
        let approved = post.published.as_ref().map_or(0, |p| p.revision);
        if post.latest.is_some() || revision <= approved {
            post.attachments.push(row.into());
        }
    }
    Ok(())
}

pub(crate) async fn get(ctx: &Ctx, caller: &Caller, id: Uuid) -> AppResult<pb::Post> {
    let mut conn = ctx.pool.acquire().await?;
    let found = row(&mut conn, id).await?;
    let place = SchoolOf {
        district: found.district_id,
        school: found.school_id,
        class: found.class_id,
    };
    let policy = policy::rules_of(&policy::load(&mut conn, place.school).await?);
    let standing = standing(&mut conn, caller, &place).await?;
    if found.author_account_id == caller.account_id || rules::moderates(&standing, &policy) {
        return as_author(&mut conn, id).await;
    }
    let visibility = rules::visibility(&standing, &policy);
    let sql = format!(
        "SELECT {POST_COLUMNS} FROM posts p \
         WHERE p.id = $6 AND p.first_published_at IS NOT NULL AND {}",
        visibility::visible(&PUBLISHED)
    );
    let readable: Option<PostRow> =
        visibility::bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &visibility)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match readable {
        Some(post) => {
            let mut post = post.view(View::Reader);
            with_attachments(&mut conn, std::slice::from_mut(&mut post)).await?;
            Ok(post)
        }
        None => Err(tonic::Status::permission_denied(
            "this post's classification does not include you",
        )
        .into()),
    }
}

/// Which posts a list holds.
pub(crate) enum Listing {
    /// The published posts of the school, or of one of its classes.
    Published { class: Option<Uuid> },
    /// The caller's own posts in the school, in any state.
    Mine,
    /// The posts awaiting a moderator.
    Queue,
}

/// A page after `cursor`: its posts and the next cursor.
pub(crate) struct Page<'a> {
    pub(crate) cursor: &'a str,
    pub(crate) limit: i64,
}

fn after(cursor: &str, newest_first: bool) -> AppResult<(OffsetDateTime, Uuid)> {
    if cursor.is_empty() {
        return Ok(if newest_first {
            (
                OffsetDateTime::now_utc() + time::Duration::days(36_500),
                Uuid::max(),
            )
        } else {
            (OffsetDateTime::UNIX_EPOCH, Uuid::nil())
        });
    }
    let (micros, id) = cursor::decode(cursor)?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| tonic::Status::invalid_argument("cursor: not one this service gave"))?;
    Ok((at, id))
}

/// The page's posts and the cursor after its last one (by `at`).
fn paged(
    rows: Vec<PostRow>,
    page: &Page<'_>,
    at: impl Fn(&PostRow) -> Option<OffsetDateTime>,
    view: View,
) -> pb::ListPostsResponse {
    let more = rows.len() as i64 > page.limit;
    let rows: Vec<PostRow> = rows.into_iter().take(page.limit as usize).collect();
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => cursor::encode(
            at(last).map_or(0, |at| (at.unix_timestamp_nanos() / 1_000) as i64),
            last.id,
        ),
        _ => String::new(),
    };
    pb::ListPostsResponse {
        posts: rows.into_iter().map(|row| row.view(view)).collect(),
        next_cursor,
    }
}

pub(crate) async fn list(
    ctx: &Ctx,
    caller: &Caller,
    school: Uuid,
    listing: Listing,
    page: Page<'_>,
) -> AppResult<pb::ListPostsResponse> {
    let mut conn = ctx.pool.acquire().await?;
    let place = SchoolOf::school(&mut conn, school).await?;
    // What the caller is to the school, and what its policy says: for the lists
    // that depend on them.
    let reader = async |conn: &mut PgConnection| -> AppResult<(rules::Policy, rules::Standing)> {
        let policy = policy::rules_of(&policy::load(conn, school).await?);
        Ok((policy, standing(conn, caller, &place).await?))
    };
    match listing {
        Listing::Published { class } => {
            let (at, id) = after(page.cursor, true)?;
            let sql = format!(
                "SELECT {POST_COLUMNS} FROM posts p \
                 WHERE p.school_id = $6 AND p.first_published_at IS NOT NULL \
                 AND ($7::uuid IS NULL OR p.class_id = $7) \
                 AND (p.first_published_at, p.id) < ($8, $9) AND {} \
                 ORDER BY p.first_published_at DESC, p.id DESC LIMIT $10",
                visibility::visible(&PUBLISHED)
            );
            let (policy, standing) = reader(&mut conn).await?;
            let visibility = rules::visibility(&standing, &policy);
            let rows = visibility::bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &visibility)
                .bind(school)
                .bind(class)
                .bind(at)
                .bind(id)
                .bind(page.limit + 1)
                .fetch_all(&mut *conn)
                .await?;
            let mut listed = paged(rows, &page, |row| row.first_published_at, View::Reader);
            with_attachments(&mut conn, &mut listed.posts).await?;
            Ok(listed)
        }
        Listing::Mine => {
            // By first submission (ids are UUIDv7), which an edit does not move.
            let (_, before) = after(page.cursor, true)?;
            let sql = format!(
                "SELECT {POST_COLUMNS} FROM posts p \
                 WHERE p.school_id = $1 AND p.author_account_id = $2 AND p.id < $3 \
                 ORDER BY p.id DESC LIMIT $4"
            );
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(school)
                .bind(caller.account_id)
                .bind(before)
                .bind(page.limit + 1)
                .fetch_all(&mut *conn)
                .await?;
            let mut listed = paged(rows, &page, |_| None, View::Full);
            with_attachments(&mut conn, &mut listed.posts).await?;
            Ok(listed)
        }
        Listing::Queue => {
            let (policy, standing) = reader(&mut conn).await?;
            rules::may_moderate(&standing, &policy)?;
            let (at, id) = after(page.cursor, false)?;
            let sql = format!(
                "SELECT {POST_COLUMNS} FROM posts p \
                 WHERE p.school_id = $1 AND p.status = 'pending' AND (p.submitted_at, p.id) > ($2, $3) \
                 ORDER BY p.submitted_at, p.id LIMIT $4"
            );
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(school)
                .bind(at)
                .bind(id)
                .bind(page.limit + 1)
                .fetch_all(&mut *conn)
                .await?;
            let mut listed = paged(rows, &page, |row| Some(row.submitted_at), View::Full);
            with_attachments(&mut conn, &mut listed.posts).await?;
            Ok(listed)
        }
    }
}

/// Anyone, signed in or not: the school's public posts, if its policy has a feed.
pub(crate) async fn public(
    ctx: &Ctx,
    school: Uuid,
    page: Page<'_>,
) -> AppResult<pb::ListPostsResponse> {
    let mut conn = ctx.pool.acquire().await?;
    SchoolOf::school(&mut conn, school).await?;
    if !policy::load(&mut conn, school).await?.public_feed {
        return Err(AppError::Rejected(
            "this school publishes no public feed".to_owned(),
        ));
    }
    let (at, id) = after(page.cursor, true)?;
    let sql = format!(
        "SELECT {POST_COLUMNS} FROM posts p \
         WHERE p.school_id = $1 AND p.published_classification = 'CLASSIFICATION_PUBLIC' \
         AND (p.first_published_at, p.id) < ($2, $3) \
         ORDER BY p.first_published_at DESC, p.id DESC LIMIT $4"
    );
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(school)
        .bind(at)
        .bind(id)
        .bind(page.limit + 1)
        .fetch_all(&mut *conn)
        .await?;
    let mut listed = paged(rows, &page, |row| row.first_published_at, View::Anonymous);
    with_attachments(&mut conn, &mut listed.posts).await?;
    // Readers without an account fetch the photos by link.
    for file in listed
        .posts
        .iter_mut()
        .flat_map(|p| p.attachments.iter_mut())
    {
        let Ok(id) = file.id.parse() else { continue };
        file.link = Some(attachments::signed_link(ctx, id, false));
        if file.has_thumbnail {
            file.thumbnail_link = Some(attachments::signed_link(ctx, id, true));
        }
    }
    Ok(listed)
}
