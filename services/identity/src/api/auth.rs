//! `lienlac.identity.v1.AuthService`.

use std::collections::HashMap;

use kernel::auth::caller;
use kernel::grpc::{Check, Violation};
use lienlac_proto::identity::v1 as pb;
use lienlac_proto::identity::v1::auth_service_server::AuthService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::Ctx;
use crate::accounts::{admin, issue, roles, sessions};
use crate::password_policy::check_length;
use crate::roles::{role_from_proto, scope_from_proto};
use crate::text;

/// The most people one `IssueAccounts` lists (a school's staff and a few classes'
/// guardians).
const MAX_LISTED_PEOPLE: usize = 1000;

pub(crate) struct Auth {
    pub ctx: Ctx,
}

impl Auth {
    fn role_change(
        check: &mut Check,
        account_id: &str,
        role: i32,
        scope_kind: i32,
        scope_id: &str,
    ) -> roles::RoleChange {
        let account_id = check.uuid("account_id", account_id);
        let role = role_from_proto(role).unwrap_or_else(|| {
            check.add(Violation::new(
                "role",
                "must be one of the listed roles",
                "phải là một trong các vai trò cho phép",
            ));
            kernel::auth::Role::Staff
        });
        if scope_from_proto(scope_kind) != Some(role.scope_kind()) {
            check.add(Violation::new(
                "scope_kind",
                format!("must be the scope of the {} role", role.as_str()),
                format!("phải là phạm vi của vai trò {}", role.as_str()),
            ));
        }
        let scope_id = check.optional_uuid("scope_id", scope_id);
        roles::RoleChange {
            account_id,
            role,
            scope_id,
        }
    }
}

#[tonic::async_trait]
impl AuthService for Auth {
    async fn issue_accounts(
        &self,
        request: Request<pb::IssueAccountsRequest>,
    ) -> Result<Response<pb::IssueAccountsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let place = match (
            check.optional_uuid("school_id", &r.school_id),
            check.optional_uuid("district_id", &r.district_id),
        ) {
            (Some(school), None) => issue::Place::School(school),
            (None, Some(district)) => issue::Place::DistrictOffice(district),
            _ => {
                check.add(Violation::new(
                    "school_id",
                    "name a school, or a district for its office's staff",
                    "cần một trường, hoặc một đơn vị hành chính cho cán bộ của đơn vị",
                ));
                issue::Place::School(Uuid::nil())
            }
        };
        let readable = check.at_most("kinds", r.kinds.len(), 2)
            & check.at_most("person_ids", r.person_ids.len(), MAX_LISTED_PEOPLE)
            & check.at_most("usernames", r.usernames.len(), MAX_LISTED_PEOPLE);
        if !readable {
            // Lists over their caps are refused unread.
            check.done()?;
        }
        let whom = match (r.kinds.is_empty(), r.person_ids.is_empty()) {
            (false, true) => {
                let kinds: Vec<pb::PersonKind> = r
                    .kinds
                    .iter()
                    .filter_map(|k| pb::PersonKind::try_from(*k).ok())
                    .collect();
                if kinds.len() != r.kinds.len()
                    || kinds
                        .iter()
                        .any(|k| !matches!(k, pb::PersonKind::Staff | pb::PersonKind::Guardian))
                {
                    check.add(Violation::new(
                        "kinds",
                        "accounts are issued to staff and guardians",
                        "chỉ cấp tài khoản cho cán bộ và phụ huynh",
                    ));
                }
                issue::Whom::Kinds(kinds)
            }
            (true, false) => issue::Whom::People(
                r.person_ids
                    .iter()
                    .map(|id| check.uuid("person_ids", id))
                    .collect(),
            ),
            _ => {
                check.add(Violation::new(
                    "kinds",
                    "give either kinds or person_ids",
                    "cần chọn kinds hoặc person_ids (một trong hai)",
                ));
                issue::Whom::People(Vec::new())
            }
        };
        let mut usernames = HashMap::new();
        for (person, raw) in &r.usernames {
            let person = check.uuid("usernames", person);
            usernames.insert(person, check.take(text::chosen_username("usernames", raw)));
        }
        let people: std::collections::HashSet<&Uuid> = match &whom {
            issue::Whom::People(ids) => ids.iter().collect(),
            issue::Whom::Kinds(_) => std::collections::HashSet::new(),
        };
        let listed = |person: &Uuid| people.contains(person);
        if !usernames.keys().all(listed) {
            check.add(Violation::new(
                "usernames",
                "usernames are chosen for people listed in person_ids only",
                "chỉ chọn tên đăng nhập cho người có trong person_ids",
            ));
        }
        check.done()?;
        Ok(Response::new(
            issue::issue(
                &self.ctx,
                &caller,
                request_key,
                place,
                whom,
                &usernames,
                r.csv,
            )
            .await?,
        ))
    }

    async fn activate_account(
        &self,
        request: Request<pb::ActivateAccountRequest>,
    ) -> Result<Response<pb::TokenPair>, Status> {
        let address = request.remote_addr().map(|a| a.ip());
        let r = request.into_inner();
        let mut check = Check::new();
        check.text("username", &r.username, 100);
        check.text("activation_code", &r.activation_code, 32);
        check.take(self.ctx.password_policy.check_new(
            "new_password",
            &r.new_password,
            &[&r.username],
        ));
        check.done()?;
        self.ctx
            .throttle
            .attempt(address, Some(&text::username(&r.username)))?;
        Ok(Response::new(
            sessions::activate(&self.ctx, &r.username, &r.activation_code, &r.new_password).await?,
        ))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::TokenPair>, Status> {
        let address = request.remote_addr().map(|a| a.ip());
        let r = request.into_inner();
        let mut check = Check::new();
        check.text("username", &r.username, 100);
        check.take(check_length("password", &r.password));
        check.done()?;
        self.ctx
            .throttle
            .attempt(address, Some(&text::username(&r.username)))?;
        Ok(Response::new(
            sessions::login(&self.ctx, &r.username, &r.password).await?,
        ))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::TokenPair>, Status> {
        let address = request.remote_addr().map(|a| a.ip());
        let r = request.into_inner();
        let mut check = Check::new();
        check.text("refresh_token", &r.refresh_token, 200);
        check.done()?;
        self.ctx.throttle.attempt(address, None)?;
        Ok(Response::new(
            sessions::refresh(&self.ctx, &r.refresh_token).await?,
        ))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let r = request.into_inner();
        let mut check = Check::new();
        check.text("refresh_token", &r.refresh_token, 200);
        check.done()?;
        sessions::logout(&self.ctx, &r.refresh_token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        check.take(check_length("current_password", &r.current_password));
        check.take(check_length("new_password", &r.new_password));
        check.done()?;
        sessions::change_password(&self.ctx, &caller, &r.current_password, &r.new_password).await?;
        Ok(Response::new(pb::ChangePasswordResponse {}))
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::IssuedAccount>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let account_id = check.uuid("account_id", &r.account_id);
        check.done()?;
        Ok(Response::new(
            issue::reset(&self.ctx, &caller, request_key, account_id).await?,
        ))
    }

    async fn lock_account(
        &self,
        request: Request<pb::LockAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let account_id = check.uuid("account_id", &r.account_id);
        check.done()?;
        Ok(Response::new(
            admin::lock(
                &self.ctx,
                &caller,
                request_key,
                account_id,
                r.reason.trim().to_owned(),
            )
            .await?,
        ))
    }

    async fn unlock_account(
        &self,
        request: Request<pb::UnlockAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let account_id = check.uuid("account_id", &r.account_id);
        check.done()?;
        Ok(Response::new(
            admin::unlock(&self.ctx, &caller, request_key, account_id).await?,
        ))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let caller = caller(&request)?.clone();
        Ok(Response::new(admin::who_am_i(&self.ctx, &caller).await?))
    }

    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        let jwks_json = crate::keys::jwks(&self.ctx.pool, self.ctx.settings.access_token_ttl)
            .await
            .map_err(crate::error::AppError::Unexpected)?;
        Ok(Response::new(pb::GetJwksResponse { jwks_json }))
    }

    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Result<Response<pb::ServiceToken>, Status> {
        let r = request.into_inner();
        let secret = secrecy::SecretString::from(r.secret);
        Ok(Response::new(crate::service_tokens::issue(
            &self.ctx.tokens,
            &self.ctx.settings.service_secrets,
            &r.service,
            &secret,
        )?))
    }

    async fn grant_role(
        &self,
        request: Request<pb::GrantRoleRequest>,
    ) -> Result<Response<pb::RoleBinding>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let change =
            Self::role_change(&mut check, &r.account_id, r.role, r.scope_kind, &r.scope_id);
        check.done()?;
        Ok(Response::new(
            roles::grant(&self.ctx, &caller, request_key, change).await?,
        ))
    }

    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let change =
            Self::role_change(&mut check, &r.account_id, r.role, r.scope_kind, &r.scope_id);
        check.done()?;
        roles::revoke(&self.ctx, &caller, request_key, change).await?;
        Ok(Response::new(pb::RevokeRoleResponse {}))
    }
}
