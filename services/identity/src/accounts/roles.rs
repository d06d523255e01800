//! Granting and revoking roles, by the rules of [`super::authority::granters`].
//! Homeroom-teacher and guardian bindings follow from the directory and cannot be
//! granted.

use kernel::auth::{Binding, Caller, Role, ScopeKind, Target};
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::RoleBinding;
use lienlac_proto::identity::v2::{RoleGranted, RoleRevoked};
use sqlx::PgConnection;
use uuid::Uuid;

use super::authority::granters;
use super::by_id;
use crate::Ctx;
use crate::access;
use crate::error::{AppError, AppResult, projected_unique_or};
use crate::events::account_stream;
use crate::roles::{binding_to_proto, scope_name};
use crate::write_model::emit;

pub(crate) struct RoleChange {
    pub account_id: Uuid,
    pub role: Role,
    pub scope_id: Option<Uuid>,
}

/// The binding `change` describes, checked against the directory and the caller.
async fn binding(
    conn: &mut PgConnection,
    caller: &Caller,
    change: &RoleChange,
) -> AppResult<(Binding, Target)> {
    let scope = change.role.scope_kind();
    if matches!(change.role, Role::HomeroomTeacher | Role::Guardian) {
        return Err(AppError::Rejected(format!(
            "the {} role follows from the directory: use {}",
            change.role.as_str(),
            if change.role == Role::Guardian {
                "LinkGuardian"
            } else {
                "AssignHomeroomTeacher"
            }
        )));
    }
    let target = match (scope, change.scope_id) {
        (ScopeKind::Platform, _) => Target::platform(),
        (ScopeKind::District, Some(id)) => access::district(conn, id).await?,
        (ScopeKind::School, Some(id)) => access::school(conn, id).await?,
        (_, _) => {
            return Err(tonic::Status::invalid_argument(format!(
                "scope_id is required: the {} role is over a {}",
                change.role.as_str(),
                scope_name(scope)
            ))
            .into());
        }
    };
    caller.require(granters(change.role), &target)?;
    let account = by_id(conn, change.account_id).await?;
    if let (Some(district), Some(person)) = (target.district, account.person_id) {
        let person_district: Uuid =
            sqlx::query_scalar("SELECT district_id FROM people WHERE id = $1")
                .bind(person)
                .fetch_one(&mut *conn)
                .await?;
        if person_district != district {
            return Err(AppError::Rejected(
                "the account's person belongs to another district".to_owned(),
            ));
        }
    }
    let binding = Binding {
        role: change.role,
        scope,
        id: if scope == ScopeKind::Platform {
            None
        } else {
            change.scope_id
        },
        district: target.district,
        school: None,
    };
    Ok((binding, target))
}

fn event_meta(caller: &Caller, target: &Target) -> kernel::event_store::EventMeta {
    let meta = kernel::event_store::EventMeta::for_command(Some(caller.account_id.to_string()));
    match target.district {
        Some(district) => meta.in_tenant(district, target.school),
        None => meta,
    }
}

pub(crate) async fn grant(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    change: RoleChange,
) -> AppResult<RoleBinding> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (binding, target) = binding(tx, &by, &change).await?;
            let proto = binding_to_proto(&binding, change.account_id);
            let person = by_id(tx, change.account_id).await?.person_id;
            if let Some(person) = person {
                crate::access::living(tx, person).await?;
            }
            let event = RoleGranted {
                account_id: change.account_id.to_string(),
                person_id: person.map(|id| id.to_string()).unwrap_or_default(),
                binding: Some(proto.clone()),
            };
            emit(
                tx,
                &account_stream(change.account_id),
                &event_meta(&by, &target),
                &event,
            )
            .await
            .map_err(|error| {
                projected_unique_or(error, || {
                    "the account already holds this role over this scope".to_owned()
                })
            })?;
            Ok(proto)
        })
    })
    .await
}

pub(crate) async fn revoke(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    change: RoleChange,
) -> AppResult<()> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let (binding, target) = binding(tx, &by, &change).await?;
            let held: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM role_bindings \
                 WHERE account_id = $1 AND role = $2 AND scope_id IS NOT DISTINCT FROM $3 FOR UPDATE",
            )
            .bind(change.account_id)
            .bind(binding.role.as_str())
            .bind(binding.id)
            .fetch_optional(&mut *tx)
            .await?;
            if held.is_none() {
                return Err(AppError::NotFound("role binding"));
            }
            let person = by_id(tx, change.account_id).await?.person_id;
            let event = RoleRevoked {
                account_id: change.account_id.to_string(),
                person_id: person.map(|id| id.to_string()).unwrap_or_default(),
                binding: Some(binding_to_proto(&binding, change.account_id)),
            };
            emit(tx, &account_stream(change.account_id), &event_meta(&by, &target), &event).await?;
            Ok(())
        })
    })
    .await
}
