//! Links a browser downloads an attachment with, without a token (an `<img>` in
//! the app, a school website's public feed): lienlac signs which attachment, which
//! of its files and until when with a key its replicas share, and serves
//! `GET /attachments/<id>` on its own port after checking the signature, so the
//! store is never reached from outside. A link is made only for a caller the
//! attachment is authorised for (`download` rules) and lives minutes.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt as _;
use hmac::{KeyInit as _, Mac as _};
use sha2::Sha256;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Ctx;

type HmacSha256 = hmac::Hmac<Sha256>;

/// How links are made: the key, how long they live and the address the service
/// is reached at from outside (`MESSAGING_PUBLIC_URL`; links are paths without it).
#[derive(Clone)]
pub(crate) struct Links {
    pub(crate) key: LinkKey,
    pub(crate) lifetime: time::Duration,
    pub(crate) base_url: String,
}

/// What a link grants: one file of one attachment until a time (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) attachment: Uuid,
    pub(crate) thumbnail: bool,
    pub(crate) expires: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("this link is not one lienlac signed")]
    Forged,
    #[error("this link has expired: ask the app for a new one")]
    Expired,
}

/// The signing key, made by the first replica to start and kept in the database.
#[derive(Clone)]
pub(crate) struct LinkKey(Arc<HmacSha256>);

impl LinkKey {
    pub(crate) async fn load(pool: &PgPool) -> anyhow::Result<Self> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        sqlx::query("INSERT INTO download_link_key (key) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(&fresh[..])
            .execute(pool)
            .await?;
        let key: Vec<u8> = sqlx::query_scalar("SELECT key FROM download_link_key")
            .fetch_one(pool)
            .await?;
        Ok(Self::from_bytes(&key))
    }

    fn from_bytes(key: &[u8]) -> Self {
        Self(Arc::new(
            HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length"),
        ))
    }

    fn keyed(&self, grant: &Grant) -> HmacSha256 {
        let mut mac = (*self.0).clone();
        mac.update(
            format!(
                "attachment:{}:{}:{}",
                grant.attachment,
                u8::from(grant.thumbnail),
                grant.expires
            )
            .as_bytes(),
        );
        mac
    }

    /// A value of its own for `purpose`, the same on every replica and unknown
    /// outside the service: the secret in a webhook's address, a phone number's
    /// stand-in (delivery/webhooks.rs).
    pub(crate) fn derived(&self, purpose: &str) -> Vec<u8> {
        let mut mac = (*self.0).clone();
        mac.update(format!("derived:{purpose}").as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The link's path and query, under the address the service is reached at.
    pub(crate) fn path(&self, grant: &Grant) -> String {
        let signature = URL_SAFE_NO_PAD.encode(self.keyed(grant).finalize().into_bytes());
        format!(
            "/attachments/{}?thumbnail={}&expires={}&signature={signature}",
            grant.attachment, grant.thumbnail, grant.expires
        )
    }

    /// Whether `signature` is this key's for `grant`, still valid at `now`.
    pub(crate) fn check(&self, grant: &Grant, signature: &str, now: i64) -> Result<(), Refusal> {
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refusal::Forged)?;
        self.keyed(grant)
            .verify_slice(&signature)
            .map_err(|_| Refusal::Forged)?;
        if now >= grant.expires {
            return Err(Refusal::Expired);
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct Signed {
    #[serde(default)]
    thumbnail: bool,
    expires: i64,
    signature: String,
}

/// `GET /attachments/<id>?thumbnail=&expires=&signature=`, served beside the gRPC
/// API on the service's port.
pub(crate) fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/attachments/{id}", get(serve))
        .with_state(ctx)
}

async fn serve(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    let Ok(attachment) = id.parse::<Uuid>() else {
        return (StatusCode::NOT_FOUND, "no such attachment").into_response();
    };
    let grant = Grant {
        attachment,
        thumbnail: signed.thumbnail,
        expires: signed.expires,
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if let Err(refusal) = ctx.links.key.check(&grant, &signed.signature, now) {
        let status = match refusal {
            Refusal::Forged => StatusCode::FORBIDDEN,
            Refusal::Expired => StatusCode::GONE,
        };
        return (status, refusal.to_string()).into_response();
    }
    match super::by_link(&ctx, attachment, grant.thumbnail).await {
        Ok((described, bytes)) => {
            let inline = described.content_type.starts_with("image/");
            let disposition = format!(
                "{}; filename*=UTF-8''{}",
                if inline { "inline" } else { "attachment" },
                percent_encoded(&described.file_name)
            );
            let headers = [
                (header::CONTENT_TYPE, described.content_type),
                (header::CONTENT_DISPOSITION, disposition),
                (
                    header::CACHE_CONTROL,
                    format!("private, max-age={}", (grant.expires - now).max(0)),
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; sandbox".to_owned(),
                ),
            ];
            let body = Body::from_stream(bytes.map(|chunk| {
                chunk.map_err(|error| std::io::Error::other(tonic::Status::from(error)))
            }));
            let mut response = body.into_response();
            for (name, value) in headers {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(error) => {
            let status = tonic::Status::from(error);
            let code = match status.code() {
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::FailedPrecondition => StatusCode::GONE,
                tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
                tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (code, status.message().to_owned()).into_response()
        }
    }
}

/// `name` for `filename*=UTF-8''…` (RFC 8187): unreserved characters as they
/// are, every other byte of its UTF-8 as `%XX`.
fn percent_encoded(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature_of(path: &str) -> &str {
        path.rsplit_once("signature=").map(|(_, s)| s).unwrap()
    }

    #[test]
    fn a_vietnamese_file_name_is_percent_encoded_for_the_header() {
        assert_eq!(percent_encoded("Thư mời.pdf"), "Th%C6%B0%20m%E1%BB%9Di.pdf");
    }

    #[test]
    fn given_a_link_and_a_time_then_it_is_honoured_or_refused() {
        let key = LinkKey::from_bytes(b"the shared key");
        let other_key = LinkKey::from_bytes(b"another key");
        let grant = Grant {
            attachment: Uuid::now_v7(),
            thumbnail: false,
            expires: 1_000,
        };
        let signed = key.path(&grant);
        let signature = signature_of(&signed);
        let cases = [
            ("as signed, in time", grant, signature, 999, Ok(())),
            (
                "as signed, at expiry",
                grant,
                signature,
                1_000,
                Err(Refusal::Expired),
            ),
            (
                "expiry moved later",
                Grant {
                    expires: 5_000,
                    ..grant
                },
                signature,
                999,
                Err(Refusal::Forged),
            ),
            (
                "another attachment",
                Grant {
                    attachment: Uuid::now_v7(),
                    ..grant
                },
                signature,
                999,
                Err(Refusal::Forged),
            ),
            (
                "the photo for its thumbnail",
                Grant {
                    thumbnail: true,
                    ..grant
                },
                signature,
                999,
                Err(Refusal::Forged),
            ),
            ("not base64", grant, "%%%", 999, Err(Refusal::Forged)),
            ("empty", grant, "", 999, Err(Refusal::Forged)),
        ];
        for (case, grant, signature, now, expected) in cases {
            assert_eq!(key.check(&grant, signature, now), expected, "{case}");
        }
        let foreign = other_key.path(&grant);
        assert_eq!(
            key.check(&grant, signature_of(&foreign), 999),
            Err(Refusal::Forged),
            "another deployment's key"
        );
    }
}
