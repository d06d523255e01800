//! The directory's use cases: each authorises the caller against the record's
//! scope, then changes the directory and appends its event in one idempotent
//! transaction.

pub(crate) mod contacts;
pub(crate) mod create;
pub(crate) mod described;
mod effective_dates;
pub(crate) mod enrolments;
pub(crate) mod export;
pub(crate) mod members;
pub(crate) mod people;
pub(crate) mod person;
pub(crate) mod read;
pub(crate) mod roster;
pub(crate) mod update;

use kernel::auth::Caller;
use kernel::event_store::EventMeta;
use uuid::Uuid;

/// Event metadata for a command by `caller` in a district (and school).
pub(crate) fn meta(caller: &Caller, district: Uuid, school: Option<Uuid>) -> EventMeta {
    EventMeta::for_command(Some(caller.account_id.to_string())).in_tenant(district, school)
}
