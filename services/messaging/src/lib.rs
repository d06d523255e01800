//! The messaging service: the school–home contact book. Class groups and school
//! staff groups follow identity's directory (directory.rs); direct threads join a
//! guardian with their child's teachers and school leaders, or staff of one
//! school (conversations/). Messages are events on each conversation's stream
//! (write_model.rs); their text stays in the service. Announcements go to the
//! guardians of an audience (announcements/); posts are a school's or a class's
//! news, moderated and classified (posts/); bulletins are timetables, menus and
//! curriculum plans (bulletins/); surveys ask guardians and tally their answers
//! (surveys/); connected apps follow it all live (live/).

mod announcements;
mod api;
mod attachments;
mod bulletins;
pub mod config;
mod conversations;
mod cursor;
mod delivery;
mod directory;
mod live;
mod notices;
mod periodic;
mod posts;
mod surveys;
mod visibility;
mod write_model;

use std::net::SocketAddr;
use std::sync::Arc;

use kernel::bootstrap::ServiceHost;
use kernel::config::ServiceId;
use kernel::consumer::ConsumerSource;
use lienlac_proto::messaging::v1::messaging_service_server::MessagingServiceServer;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use config::Settings;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// What every use case needs.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) pool: PgPool,
    /// Identity, asked with the caller's own token (students' names in exports).
    pub(crate) identity: tonic::transport::Channel,
    /// Where attachments' bytes are kept.
    pub(crate) store: Arc<dyn object_store::ObjectStore>,
    pub(crate) attachment_max_bytes: usize,
    /// How download links are signed and addressed.
    pub(crate) links: attachments::links::Links,
    /// Delivery beyond the app, when it is on.
    pub(crate) delivery: Option<delivery::Enabled>,
}

pub struct Application {
    host: ServiceHost,
    ctx: Ctx,
    receipts_every: std::time::Duration,
    purge_every: std::time::Duration,
    /// How often each channel looks for due deliveries.
    delivery_every: std::time::Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let receipts_every = settings.receipts_every;
        let purge_every = settings.purge_every;
        let delivery_settings = settings.delivery.clone();
        let host = ServiceHost::build(settings.kernel, &MIGRATOR).await?;
        let identity = host
            .config
            .tls
            .endpoint(&host.config.identity_url)?
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .connect_lazy();
        let link_key = attachments::links::LinkKey::load(&host.pool).await?;
        let delivery = delivery::Enabled::start(
            &host.pool,
            &delivery_settings,
            &identity,
            &link_key,
            &settings.public_url,
        )
        .await?;
        let ctx = Ctx {
            pool: host.pool.clone(),
            identity,
            store: attachments::store::open(&settings.attachments_dir, settings.s3.as_ref())
                .await?,
            attachment_max_bytes: settings.attachment_max_bytes,
            links: attachments::links::Links {
                key: link_key,
                lifetime: time::Duration::try_from(settings.link_lifetime)?,
                base_url: settings.public_url,
            },
            delivery,
        };
        Ok(Self {
            host,
            ctx,
            receipts_every,
            purge_every,
            delivery_every: delivery_settings.every,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.grpc_addr()
    }

    pub fn pool(&self) -> &PgPool {
        &self.ctx.pool
    }

    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.host.add_relay();
        let source = ConsumerSource::all_of(&self.host.config.namespace, ServiceId::IDENTITY);
        self.host
            .add_consumer(Arc::new(directory::DirectoryProjection), source);
        let attendance = ConsumerSource::all_of(&self.host.config.namespace, ServiceId::ATTENDANCE);
        self.host
            .add_consumer(Arc::new(notices::AttendanceProjection), attendance);
        let authenticator = self.host.identity_authenticator()?;
        let feed = live::Feed::start(self.ctx.pool.clone(), shutdown.clone()).await?;
        tokio::spawn(announcements::schedule::run(
            self.ctx.pool.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(attachments::purge::run(
            self.ctx.pool.clone(),
            self.ctx.store.clone(),
            self.purge_every,
            shutdown.clone(),
        ));
        tokio::spawn(announcements::receipts::run(
            self.ctx.pool.clone(),
            self.receipts_every,
            shutdown.clone(),
        ));
        if let Some(enabled) = &self.ctx.delivery {
            enabled.spawn_workers(&self.ctx, self.delivery_every, shutdown.clone());
        }
        let routes = Routes::new(
            MessagingServiceServer::new(api::Messaging {
                ctx: self.ctx.clone(),
                feed,
            })
            .max_decoding_message_size(kernel::grpc::MAX_REQUEST_BYTES),
        );
        // Download links (attachments/links.rs) and the providers' webhooks
        // (delivery/webhooks.rs) are plain HTTP on the same port.
        let mut plain = attachments::links::router(self.ctx.clone());
        if let Some(enabled) = &self.ctx.delivery {
            plain = plain.merge(enabled.webhooks.clone().router());
        }
        self.host
            .serve_plain_http(&["/attachments/", "/webhooks/"], plain);
        self.host
            .run(
                routes,
                &["lienlac.messaging.v1.MessagingService"],
                Some(authenticator),
                shutdown,
            )
            .await
    }
}
