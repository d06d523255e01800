//! How lienlac's own services reach people when no reader asks: messaging sends
//! an absence notice by SMS or Zalo to the guardian's phone number, and reaches a
//! guardian who never signed in only that way. Only a service token reads it
//! (`service_tokens.rs`); every read is in the access log, the person as its
//! subject.

use kernel::access_log;
use kernel::auth::{Caller, Role, Target};
use lienlac_proto::identity::v1::{Contact, DescribeContactsResponse};
use uuid::Uuid;

use crate::Ctx;
use crate::error::AppResult;

/// The most ids one request may name.
pub(crate) const MAX_CONTACTS: usize = 2_000;

pub(crate) async fn describe_contacts(
    ctx: &Ctx,
    caller: &Caller,
    ids: &[Uuid],
) -> AppResult<DescribeContactsResponse> {
    caller.require(&[Role::Service], &Target::platform())?;
    let rows: Vec<(Uuid, Uuid, String, bool)> = sqlx::query_as(
        "SELECT p.id, p.district_id, p.phone, coalesce(a.status = 'active', false) \
         FROM people p LEFT JOIN accounts a ON a.person_id = p.id \
         WHERE p.id = ANY($1) AND p.phone IS NOT NULL AND p.erased_at IS NULL",
    )
    .bind(ids)
    .fetch_all(&ctx.pool)
    .await?;
    let read: Vec<(Uuid, Target)> = rows
        .iter()
        .map(|(person, district, _, _)| (*person, Target::district(*district)))
        .collect();
    access_log::record_in(&ctx.pool, caller, "identity.DescribeContacts", &read).await?;
    Ok(DescribeContactsResponse {
        contacts: rows
            .into_iter()
            .map(|(person, _, phone, has_account)| Contact {
                person_id: person.to_string(),
                phone: phone.trim_start_matches('+').to_owned(),
                has_account,
            })
            .collect(),
    })
}
