//! Identity and messaging in one test world, with the shared test school, and
//! the people of the school by person id.

use std::time::Duration;

use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel, eventually, with_token};
use lienlac_proto::identity::v1::WhoAmIRequest;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_test_support::{School, start_identity};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub struct Stack {
    pub world: TestWorld,
    pub pool: PgPool,
    pub school: School,
    messaging: Channel,
    identity: Channel,
    stop: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Stack {
    /// Once messaging knows the school: its classes, guardians and leaders.
    pub async fn start() -> Self {
        let world = TestWorld::new();
        let stop = CancellationToken::new();
        let identity_addr = start_identity(&world, &stop).await;
        let mut config = world.config(ServiceId::MESSAGING);
        config.identity_url = format!("http://{identity_addr}");
        let app = messaging::Application::build(messaging::Settings::defaults(config))
            .await
            .unwrap();
        let (addr, pool) = (app.grpc_addr(), app.pool().clone());
        tokio::spawn(app.run_until_stopped(stop.clone()));
        let school = School::create(identity_addr).await;
        let known = pool.clone();
        eventually("messaging knows the school", Duration::from_secs(20), || {
            let pool = known.clone();
            async move {
                let (guardians, leaders): (i64, i64) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM guardianships), (SELECT count(*) FROM school_leaders)",
                )
                .fetch_one(&pool)
                .await
                .ok()?;
                (guardians >= 1 && leaders >= 2).then_some(())
            }
        })
        .await;
        Self {
            world,
            pool,
            school,
            messaging: channel(addr),
            identity: channel(identity_addr),
            stop,
        }
    }

    pub fn client(&self) -> MessagingServiceClient<Channel> {
        MessagingServiceClient::new(self.messaging.clone())
    }

    /// The person id behind a token.
    pub async fn person(&self, token: &str) -> String {
        AuthServiceClient::new(self.identity.clone())
            .who_am_i(with_token(WhoAmIRequest {}, token))
            .await
            .unwrap()
            .into_inner()
            .person
            .map(|person| person.id)
            .unwrap_or_default()
    }
}
