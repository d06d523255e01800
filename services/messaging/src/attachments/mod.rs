//! Attachments: files uploaded by members of a school, kept in the attachment
//! store (a local directory by default, `MESSAGING_ATTACHMENTS_DIR`) under
//! `<school>/<id>`, with a row in `attachments`. The kind is sniffed from the
//! content (sniff.rs); photos are kept without their metadata and with a
//! thumbnail (images.rs). An upload is its uploader's until a message or a post of
//! theirs attaches it; then whoever may read the message, or the post within its
//! classification, may download it, through lienlac only.

pub(crate) mod images;
pub(crate) mod links;
pub(crate) mod purge;
pub(crate) mod sniff;
pub(crate) mod store;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use kernel::auth::Caller;
use kernel::error::{AppError, AppResult};
use lienlac_proto::messaging::v1 as pb;
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutPayload};
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Ctx;
use crate::conversations::access;
use crate::posts::{SchoolOf, standing};

/// An upload as its header names it, with its bytes.
pub(crate) struct Upload {
    pub(crate) school: Uuid,
    pub(crate) file_name: String,
    pub(crate) bytes: Vec<u8>,
}

pub(crate) fn key(school: Uuid, id: Uuid, thumbnail: bool) -> Path {
    if thumbnail {
        Path::from(format!("{school}/{id}.thumbnail.jpg"))
    } else {
        Path::from(format!("{school}/{id}"))
    }
}

fn unavailable(error: object_store::Error) -> AppError {
    tracing::warn!(error = %error, "the attachment store failed");
    tonic::Status::unavailable("the attachment store did not answer; try again").into()
}

pub(crate) async fn upload(
    ctx: &Ctx,
    caller: &Caller,
    upload: Upload,
) -> AppResult<pb::Attachment> {
    let mut conn = ctx.pool.acquire().await?;
    let place = SchoolOf::school(&mut conn, upload.school).await?;
    let standing = standing(&mut conn, caller, &place).await?;
    if !(standing.staff
        || standing.leads
        || standing.district_office
        || !standing.guardian_of.is_empty())
    {
        return Err(tonic::Status::permission_denied(
            "only the school's staff, its students' guardians and the district office upload for it",
        )
        .into());
    }
    drop(conn);
    let kind = sniff::sniff(&upload.bytes, &upload.file_name).ok_or_else(|| {
        tonic::Status::invalid_argument(
            "the file is none of the kinds accepted (JPEG, PNG, WebP, PDF, DOCX, XLSX, PPTX, MP4)",
        )
    })?;
    let (kept, thumbnail) = if kind.is_image() {
        let bytes = upload.bytes;
        let cleaned = tokio::task::spawn_blocking(move || images::clean(kind, &bytes))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(|_| tonic::Status::invalid_argument("the photo cannot be read"))?;
        (cleaned.image, Some(cleaned.thumbnail))
    } else {
        (upload.bytes, None)
    };
    let id = Uuid::now_v7();
    let sha256: String = Sha256::digest(&kept)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let size = kept.len() as i64;
    ctx.store
        .put(&key(place.school, id, false), PutPayload::from(kept))
        .await
        .map_err(unavailable)?;
    if let Some(thumbnail) = &thumbnail {
        ctx.store
            .put(
                &key(place.school, id, true),
                PutPayload::from(thumbnail.clone()),
            )
            .await
            .map_err(unavailable)?;
    }
    let row: AttachmentRow = sqlx::query_as(
        "INSERT INTO attachments (id, district_id, school_id, uploaded_by, file_name, content_type, \
         size, sha256, has_thumbnail, uploader_person_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         RETURNING id, school_id, file_name, content_type, size, sha256, has_thumbnail, uploaded_at, message_id, false AS erased",
    )
    .bind(id)
    .bind(place.district)
    .bind(place.school)
    .bind(caller.account_id)
    .bind(&upload.file_name)
    .bind(kind.content_type())
    .bind(size)
    .bind(sha256)
    .bind(thumbnail.is_some())
    .bind(caller.person_id)
    .fetch_one(&ctx.pool)
    .await?;
    Ok(row.into())
}

#[derive(sqlx::FromRow)]
pub(crate) struct AttachmentRow {
    id: Uuid,
    school_id: Uuid,
    file_name: String,
    content_type: String,
    size: i64,
    sha256: String,
    has_thumbnail: bool,
    uploaded_at: OffsetDateTime,
    pub(crate) message_id: Option<Uuid>,
    erased: bool,
}

pub(crate) const ATTACHMENT_COLUMNS: &str = "id, school_id, file_name, content_type, size, sha256, \
    has_thumbnail, uploaded_at, message_id, erased_at IS NOT NULL AS erased";

impl From<AttachmentRow> for pb::Attachment {
    fn from(row: AttachmentRow) -> Self {
        pb::Attachment {
            id: row.id.to_string(),
            school_id: row.school_id.to_string(),
            file_name: row.file_name,
            content_type: row.content_type,
            size: row.size,
            sha256: row.sha256,
            has_thumbnail: row.has_thumbnail,
            uploaded_at: kernel::dates::rfc3339(row.uploaded_at),
            link: None,
            thumbnail_link: None,
        }
    }
}

/// The caller's own uploads `ids` for `school` (any school of `district` when
/// `None`), not yet attached, locked until the transaction ends; PERMISSION_DENIED
/// naming how many are not.
pub(crate) async fn claim(
    tx: &mut PgConnection,
    caller: &Caller,
    district: Uuid,
    school: Option<Uuid>,
    ids: &[Uuid],
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let claimable: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM attachments WHERE id = ANY($1) AND uploaded_by = $2 AND district_id = $3 \
         AND ($4::uuid IS NULL OR school_id = $4) \
         AND message_id IS NULL AND post_id IS NULL AND announcement_id IS NULL FOR UPDATE",
    )
    .bind(ids)
    .bind(caller.account_id)
    .bind(district)
    .bind(school)
    .fetch_all(tx)
    .await?;
    if claimable.len() != ids.len() {
        return Err(tonic::Status::permission_denied(format!(
            "attachment_ids: {} of them are not your own uploads for this school waiting to be attached",
            ids.len() - claimable.len()
        ))
        .into());
    }
    Ok(())
}

/// The attachments of each announcement of `announcements`.
pub(crate) async fn of_announcements(
    conn: &mut PgConnection,
    announcements: &[Uuid],
) -> AppResult<Vec<(Uuid, AttachmentRow)>> {
    let sql = format!(
        "SELECT {ATTACHMENT_COLUMNS}, announcement_id FROM attachments \
         WHERE announcement_id = ANY($1) ORDER BY id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(announcements)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            use sqlx::{FromRow as _, Row as _};
            Ok((
                row.try_get("announcement_id")?,
                AttachmentRow::from_row(row)?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The attachments of each post of `posts`, with the revision that added each.
pub(crate) async fn of_posts(
    conn: &mut PgConnection,
    posts: &[Uuid],
) -> AppResult<Vec<(Uuid, i32, AttachmentRow)>> {
    let sql = format!(
        "SELECT {ATTACHMENT_COLUMNS}, post_id, post_revision FROM attachments \
         WHERE post_id = ANY($1) ORDER BY id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(posts)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            use sqlx::{FromRow as _, Row as _};
            Ok((
                row.try_get("post_id")?,
                row.try_get("post_revision")?,
                AttachmentRow::from_row(row)?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The attachments of each message of `messages`.
pub(crate) async fn of_messages(
    conn: &mut PgConnection,
    messages: &[Uuid],
) -> AppResult<Vec<AttachmentRow>> {
    let sql = format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE message_id = ANY($1) ORDER BY id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(messages)
        .fetch_all(conn)
        .await?)
}

/// The attachment `id` (or its thumbnail) as a stream of bytes, after its
/// description, if the caller may read it (`authorise`).
pub(crate) async fn download(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    thumbnail: bool,
) -> AppResult<(pb::Attachment, BoxStream<'static, AppResult<Bytes>>)> {
    let row = authorise(ctx, caller, id).await?;
    open(ctx, row, thumbnail).await
}

/// A link that downloads the attachment `id` (or its thumbnail) without a token
/// for a few minutes (links.rs), if the caller may read it.
pub(crate) async fn link(
    ctx: &Ctx,
    caller: &Caller,
    id: Uuid,
    thumbnail: bool,
) -> AppResult<pb::DownloadLink> {
    let row = authorise(ctx, caller, id).await?;
    require_file(&row, thumbnail)?;
    Ok(signed_link(ctx, id, thumbnail))
}

/// The link to the file, signed to expire after the configured time.
pub(crate) fn signed_link(ctx: &Ctx, id: Uuid, thumbnail: bool) -> pb::DownloadLink {
    let expires = OffsetDateTime::now_utc() + ctx.links.lifetime;
    let grant = links::Grant {
        attachment: id,
        thumbnail,
        expires: expires.unix_timestamp(),
    };
    pb::DownloadLink {
        url: format!("{}{}", ctx.links.base_url, ctx.links.key.path(&grant)),
        expires_at: kernel::dates::rfc3339(expires),
    }
}

/// The attachment `id` if the caller may read it: its uploader before it is
/// attached; then the members of the message's conversation while the message
/// stands, the post's readers within its classification (up to the approved
/// revision), the announcement's readers.
async fn authorise(ctx: &Ctx, caller: &Caller, id: Uuid) -> AppResult<AttachmentRow> {
    let mut conn = ctx.pool.acquire().await?;
    let sql = format!(
        "SELECT {ATTACHMENT_COLUMNS}, uploaded_by, conversation_id, post_id, post_revision, \
         announcement_id FROM attachments WHERE id = $1"
    );
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound("attachment"))?;
    let (row, uploaded_by, conversation, post, revision, announcement) = {
        use sqlx::{FromRow as _, Row as _};
        (
            AttachmentRow::from_row(&found)?,
            found.try_get::<Uuid, _>("uploaded_by")?,
            found.try_get::<Option<Uuid>, _>("conversation_id")?,
            found.try_get::<Option<Uuid>, _>("post_id")?,
            found.try_get::<Option<i32>, _>("post_revision")?,
            found.try_get::<Option<Uuid>, _>("announcement_id")?,
        )
    };
    if let Some(announcement) = announcement {
        crate::announcements::may_read(&mut conn, caller, announcement).await?;
    }
    match (row.message_id, conversation, post) {
        (Some(_), Some(conversation), _) => {
            access::member_of(&mut conn, caller, conversation).await?;
        }
        // Within the post's classification; a reader, only up to the approved revision.
        (_, _, Some(post)) => {
            let readable = crate::posts::read::get(ctx, caller, post).await?;
            let approved = readable.published.as_ref().map_or(0, |p| p.revision);
            if readable.latest.is_none() && revision.unwrap_or(i32::MAX) > approved {
                return Err(tonic::Status::permission_denied(
                    "this attachment belongs to a revision not yet approved",
                )
                .into());
            }
        }
        _ if announcement.is_some() || uploaded_by == caller.account_id => {}
        _ => {
            return Err(tonic::Status::permission_denied(
                "an attachment not yet sent is its uploader's only",
            )
            .into());
        }
    }
    still_served(&mut conn, &row).await?;
    Ok(row)
}

/// INVALID_ARGUMENT for the thumbnail of an attachment that has none.
fn require_file(row: &AttachmentRow, thumbnail: bool) -> AppResult<()> {
    if thumbnail && !row.has_thumbnail {
        return Err(tonic::Status::invalid_argument("thumbnail: this attachment has none").into());
    }
    Ok(())
}

/// The attachment `id` (or its thumbnail) for a signed link: anyone holding
/// it, while what it was sent with stands.
pub(crate) async fn by_link(
    ctx: &Ctx,
    id: Uuid,
    thumbnail: bool,
) -> AppResult<(pb::Attachment, BoxStream<'static, AppResult<Bytes>>)> {
    let mut conn = ctx.pool.acquire().await?;
    let row: AttachmentRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound("attachment"))?;
    still_served(&mut conn, &row).await?;
    drop(conn);
    open(ctx, row, thumbnail).await
}

/// FAILED_PRECONDITION once the message the attachment was sent with is deleted,
/// or its uploader's personal data erased: its files are no longer served, by
/// link either.
pub(crate) async fn still_served(conn: &mut PgConnection, row: &AttachmentRow) -> AppResult<()> {
    if row.erased {
        return Err(AppError::Rejected(
            "this file was removed when its sender's personal data was erased".to_owned(),
        ));
    }
    let deleted: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1 AND deleted_at IS NOT NULL)",
    )
    .bind(row.message_id)
    .fetch_one(conn)
    .await?;
    if deleted {
        return Err(AppError::Rejected(
            "the message it was attached to was deleted".to_owned(),
        ));
    }
    Ok(())
}

/// The file's description and bytes.
pub(crate) async fn open(
    ctx: &Ctx,
    row: AttachmentRow,
    thumbnail: bool,
) -> AppResult<(pb::Attachment, BoxStream<'static, AppResult<Bytes>>)> {
    require_file(&row, thumbnail)?;
    let (id, school) = (row.id, row.school_id);
    let found = ctx
        .store
        .get(&key(school, id, thumbnail))
        .await
        .map_err(unavailable)?;
    let bytes = found
        .into_stream()
        .map(|chunk| chunk.map_err(unavailable))
        .boxed();
    let mut attachment: pb::Attachment = row.into();
    if thumbnail {
        attachment.content_type = "image/jpeg".to_owned();
    }
    Ok((attachment, bytes))
}
