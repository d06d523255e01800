//! Access tokens (EdDSA JWTs listing the caller's role bindings) and refresh tokens
//! (random, stored hashed, rotated on use; a reused one revokes its family).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kernel::auth::{Binding, Claims, Role, TOKEN_AUDIENCE, TOKEN_ISSUER};
use lienlac_proto::identity::v1::TokenPair;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::keys::Signer;

#[derive(Clone)]
pub struct Tokens {
    pub signer: Arc<Signer>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How long one sign-in lasts at most, however often it is refreshed.
    pub session_ttl: Duration,
}

/// What presenting a refresh token led to.
pub enum Rotation {
    Rotated(TokenPair),
    /// The token had been used already: its whole family is now revoked.
    Reused,
}

impl Tokens {
    /// A new access token and a refresh token in `family` (a new family when `None`).
    pub async fn issue(
        &self,
        conn: &mut PgConnection,
        account_id: Uuid,
        person_id: Option<Uuid>,
        family: Option<Uuid>,
    ) -> AppResult<TokenPair> {
        let roles = bindings(conn, account_id, person_id).await?;
        let family = family.unwrap_or_else(Uuid::now_v7);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let ttl = self.access_ttl.as_secs() as i64;
        let claims = Claims {
            iss: TOKEN_ISSUER.to_owned(),
            aud: TOKEN_AUDIENCE.to_owned(),
            sub: account_id,
            pid: person_id,
            iat: now,
            nbf: now,
            exp: now + ttl,
            jti: Uuid::now_v7(),
            sid: Some(family),
            roles,
        };
        let access_token = self.sign(&claims)?;

        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let refresh_token = URL_SAFE_NO_PAD.encode(secret);
        // A family's end is set when it starts and carried by each rotation.
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, account_id, family_expires_at, expires_at) \
             SELECT $1, $2, $3, f.ends, least(f.ends, now() + make_interval(secs => $4)) \
             FROM (SELECT coalesce( \
                 (SELECT family_expires_at FROM refresh_tokens WHERE family_id = $2 LIMIT 1), \
                 now() + make_interval(secs => $5)) AS ends) f",
        )
        .bind(refresh_hash(&refresh_token))
        .bind(family)
        .bind(account_id)
        .bind(self.refresh_ttl.as_secs_f64())
        .bind(self.session_ttl.as_secs_f64())
        .execute(&mut *conn)
        .await?;
        Ok(TokenPair {
            access_token,
            expires_in: ttl,
            refresh_token,
            token_type: "Bearer".to_owned(),
        })
    }

    /// `claims` as an access token under the current signing key.
    pub(crate) fn sign(&self, claims: &Claims) -> AppResult<String> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(self.signer.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.signer.key)
            .map_err(|e| anyhow::anyhow!("signing an access token: {e}"))?)
    }

    /// Exchanges a refresh token for a new pair in the same family.
    pub async fn rotate(
        &self,
        conn: &mut PgConnection,
        refresh_token: &str,
    ) -> AppResult<Rotation> {
        let row: Option<(Uuid, Uuid, bool, bool, bool)> = sqlx::query_as(
            "SELECT family_id, account_id, used_at IS NOT NULL, revoked_at IS NOT NULL, expires_at < now() \
             FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(refresh_hash(refresh_token))
        .fetch_optional(&mut *conn)
        .await?;
        let Some((family, account_id, used, revoked, expired)) = row else {
            return Err(unauthenticated(
                "the refresh token is not valid; sign in again",
            ));
        };
        if used {
            revoke_family(conn, family).await?;
            return Ok(Rotation::Reused);
        }
        if revoked || expired {
            return Err(unauthenticated(
                "the refresh token has expired or was revoked; sign in again",
            ));
        }
        let account: Option<(Option<Uuid>, bool)> = sqlx::query_as(
            "SELECT a.person_id, a.locked_by_admin OR coalesce(c.locked_until > now(), false) \
             FROM accounts a JOIN credentials c ON c.account_id = a.id WHERE a.id = $1",
        )
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((person_id, locked)) = account else {
            return Err(unauthenticated(
                "the refresh token is not valid; sign in again",
            ));
        };
        if locked {
            return Err(AppError::Rejected("this account is locked".to_owned()));
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1")
            .bind(refresh_hash(refresh_token))
            .execute(&mut *conn)
            .await?;
        let pair = self
            .issue(conn, account_id, person_id, Some(family))
            .await?;
        Ok(Rotation::Rotated(pair))
    }

    /// Ends the sign-in the refresh token belongs to.
    pub async fn revoke(&self, conn: &mut PgConnection, refresh_token: &str) -> AppResult<()> {
        let family: Option<Uuid> =
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(refresh_hash(refresh_token))
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(family) = family {
            revoke_family(conn, family).await?;
        }
        Ok(())
    }
}

async fn revoke_family(conn: &mut PgConnection, family: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends every sign-in of an account (password change or reset, lock) but `keep`.
pub(crate) async fn revoke_account(
    conn: &mut PgConnection,
    account_id: Uuid,
    keep: Option<Uuid>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() \
         WHERE account_id = $1 AND revoked_at IS NULL AND family_id IS DISTINCT FROM $2",
    )
    .bind(account_id)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(())
}

fn refresh_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn unauthenticated(message: &str) -> AppError {
    AppError::Status(tonic::Status::unauthenticated(message))
}

/// A binding as stored or derived: role, scope id, district, school.
type BindingRow = (String, Option<Uuid>, Option<Uuid>, Option<Uuid>);

/// The account's role bindings: those granted explicitly, and those that follow
/// from the directory (staff of their school, homeroom teacher of their classes,
/// guardian of their children).
pub(crate) async fn bindings(
    conn: &mut PgConnection,
    account_id: Uuid,
    person_id: Option<Uuid>,
) -> AppResult<Vec<Binding>> {
    let rows: Vec<BindingRow> = sqlx::query_as(
        "SELECT role, scope_id, district_id, school_id FROM role_bindings WHERE account_id = $1 \
         UNION ALL \
         SELECT 'staff', school_id, district_id, NULL FROM people WHERE id = $2 AND kind = 'staff' \
         UNION ALL \
         SELECT 'homeroom_teacher', id, district_id, school_id FROM classes WHERE homeroom_teacher_id = $2 \
         UNION ALL \
         SELECT 'guardian', s.id, s.district_id, s.school_id FROM guardianships g \
           JOIN people s ON s.id = g.student_id WHERE g.guardian_id = $2",
    )
    .bind(account_id)
    .bind(person_id)
    .fetch_all(conn)
    .await?;
    let mut bindings: Vec<Binding> = Vec::with_capacity(rows.len());
    for (role, id, district, school) in rows {
        let Some(role) = Role::parse(&role) else {
            continue;
        };
        let binding = Binding {
            role,
            scope: role.scope_kind(),
            id,
            district,
            school,
        };
        if !bindings.contains(&binding) {
            bindings.push(binding);
        }
    }
    Ok(bindings)
}
