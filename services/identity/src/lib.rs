//! The identity service: the directory of districts, schools, classes and people,
//! and the gatekeeper of lienlac (accounts, sign-in, tokens, role bindings).
//!
//! Every change appends an event (`events.rs`) and updates the directory tables in
//! the same transaction; the tables are the service's read model, the events the
//! record other services subscribe to. Credentials stay in tables only.

mod access;
mod account_state;
mod accounts;
mod activation;
mod api;
pub mod config;
mod directory;
mod erasure;
mod error;
mod events;
mod keys;
mod password_policy;
mod passwords;
mod personal_data;
mod personal_details;
mod roles;
mod service_tokens;
pub mod text;
mod throttle;
mod tokens;
mod write_model;

use std::net::SocketAddr;
use std::sync::Arc;

use kernel::auth::{BearerAuthenticator, TokenVerifier};
use kernel::bootstrap::ServiceHost;
use lienlac_proto::identity::v1::auth_service_server::AuthServiceServer;
use lienlac_proto::identity::v1::directory_service_server::DirectoryServiceServer;
use lienlac_proto::privacy::v1::read_log_server::ReadLogServer;
use school::read_log::ReadLogService;
use secrecy::ExposeSecret as _;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use accounts::admin::OPERATOR_USERNAME;
pub use config::Settings;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// What every use case needs.
#[derive(Clone)]
pub struct Ctx {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub passwords: passwords::Passwords,
    pub password_policy: password_policy::PasswordPolicy,
    pub activation: activation::ActivationCodes,
    pub throttle: Arc<throttle::SignInThrottle>,
    pub tokens: tokens::Tokens,
}

pub struct Application {
    host: ServiceHost,
    ctx: Ctx,
    verifier: Arc<TokenVerifier>,
}

impl Application {
    /// Connects, migrates, loads (or creates) the signing key, and creates the
    /// platform operator at first start.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let host = ServiceHost::build(settings.kernel.clone(), &MIGRATOR).await?;
        purge_retired_contract(&host).await?;
        let signer = keys::Signer::load_or_generate(&settings.signing_key_file)?;
        signer.register(&host.pool).await?;
        let passwords = passwords::Passwords::new(
            &settings.argon2,
            settings.hashing_concurrency,
            settings.hashing_queue_deadline,
        )?;
        let activation =
            activation::ActivationCodes::load_or_generate(&settings.activation_key_file)?;
        let admin_password = match &settings.admin_password {
            Some(password) => password.expose_secret().to_owned(),
            None => {
                tracing::warn!(
                    "LIENLAC_DEV is set and LIENLAC_ADMIN_PASSWORD is not: the operator gets the development password"
                );
                config::DEVELOPMENT_ADMIN_PASSWORD.to_owned()
            }
        };
        let password_policy = password_policy::PasswordPolicy {
            min_length: settings.password_min_length,
        };
        accounts::admin::ensure_operator(
            &host.pool,
            &passwords,
            &password_policy,
            &admin_password,
            settings.development,
        )
        .await?;
        let verifier = Arc::new(TokenVerifier::new(Arc::new(keys::LocalJwks {
            pool: host.pool.clone(),
            token_ttl: settings.access_token_ttl,
        })));
        let ctx = Ctx {
            pool: host.pool.clone(),
            tokens: tokens::Tokens {
                signer: Arc::new(signer),
                access_ttl: settings.access_token_ttl,
                refresh_ttl: settings.refresh_token_ttl,
                session_ttl: settings.session_ttl,
            },
            password_policy,
            throttle: Arc::new(throttle::SignInThrottle::new(
                settings.sign_in_per_username,
                settings.sign_in_per_address,
            )),
            settings: Arc::new(settings),
            passwords,
            activation,
        };
        Ok(Self {
            host,
            ctx,
            verifier,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.grpc_addr()
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.host.http_addr()
    }

    pub fn pool(&self) -> &PgPool {
        &self.ctx.pool
    }

    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.host.add_relay();
        self.host.follow_revocations(self.verifier.revocations());
        let routes = Routes::new(
            DirectoryServiceServer::new(api::directory::Directory {
                ctx: self.ctx.clone(),
            })
            .max_decoding_message_size(kernel::grpc::MAX_REQUEST_BYTES),
        )
        .add_service(
            AuthServiceServer::new(api::auth::Auth {
                ctx: self.ctx.clone(),
            })
            .max_decoding_message_size(kernel::grpc::MAX_REQUEST_BYTES),
        )
        .add_service(ReadLogServer::new(ReadLogService::new(
            self.ctx.pool.clone(),
            "identity",
            access::Students(self.ctx.pool.clone()),
        )));
        let authenticator = Arc::new(BearerAuthenticator::new(self.verifier));
        self.host
            .run(
                routes,
                &[
                    "lienlac.identity.v1.DirectoryService",
                    "lienlac.identity.v1.AuthService",
                    "lienlac.privacy.v1.ReadLog",
                ],
                Some(authenticator),
                shutdown,
            )
            .await
    }
}

/// Identity's contract version 1 carried names and phone numbers, on a stream only
/// lienlac's services read; version 2 replaced it at once (docs/events.md). What
/// version 1 left in the stream is purged at start, so that no JetStream message
/// holds a person's name, and erasure reaches the stream too.
async fn purge_retired_contract(host: &ServiceHost) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let stream = host
        .jetstream
        .get_stream(host.config.stream_name())
        .await
        .context("finding identity's stream")?;
    let purged = stream
        .purge()
        .filter(format!("{}.v1.>", host.config.subject_prefix()))
        .await
        .context("purging identity's retired v1 subjects")?;
    if purged.purged > 0 {
        tracing::info!(
            messages = purged.purged,
            "identity's v1 events purged from its stream"
        );
    }
    Ok(())
}
