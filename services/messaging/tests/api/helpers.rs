//! Identity and messaging in one test world, with the shared test school, and
//! the people of the school by person id.

use std::time::Duration;

use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel, eventually, request_id, with_token};
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::WhoAmIRequest;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_proto::messaging::v1::upload_attachment_chunk::Part;
use lienlac_test_support::{School, start_identity};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub struct Stack {
    pub world: TestWorld,
    pub pool: PgPool,
    pub school: School,
    /// Where this test's attachments are kept.
    pub attachments_dir: std::path::PathBuf,
    /// Messaging's address (gRPC, and the download links' plain HTTP).
    pub address: std::net::SocketAddr,
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
        Self::start_with(|_| {}).await
    }

    /// As `start`, with the test's settings changed by `configure` first.
    pub async fn start_with(configure: impl FnOnce(&mut messaging::Settings)) -> Self {
        let world = TestWorld::new();
        let stop = CancellationToken::new();
        let identity_addr = start_identity(&world, &stop).await;
        let mut config = world.config(ServiceId::MESSAGING);
        config.identity_url = format!("http://{identity_addr}");
        let mut settings = messaging::Settings::defaults(config);
        settings.receipts_every = Duration::from_millis(200);
        settings.purge_every = Duration::from_millis(200);
        let attachments_dir = std::env::temp_dir().join(format!("{}-attachments", world.namespace));
        settings.attachments_dir = attachments_dir.clone();
        settings.attachment_max_bytes = 2 * 1024 * 1024;
        configure(&mut settings);
        let app = messaging::Application::build(settings).await.unwrap();
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
            attachments_dir,
            address: addr,
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

    /// Identity's directory, for a test's own changes to it.
    pub fn directory(&self) -> DirectoryServiceClient<Channel> {
        DirectoryServiceClient::new(self.identity.clone())
    }

    /// A new guardian of `student`, signed in, once messaging knows the link:
    /// their person id and token.
    pub async fn guardian_of(&self, student: &str) -> (String, String) {
        let n = u32::from_str_radix(&request_id()[28..], 16).unwrap() % 100_000_000;
        let guardian = self
            .school
            .identity
            .call(
                id::RegisterGuardianRequest {
                    request_id: request_id(),
                    school_id: self.school.school_id.clone(),
                    full_name: "Phụ Huynh".into(),
                    phone: format!("09{n:08}"),
                    ..Default::default()
                },
                |mut c, r| async move { c.register_guardian(r).await },
            )
            .await
            .id;
        self.school
            .identity
            .call(
                id::LinkGuardianRequest {
                    request_id: request_id(),
                    guardian_id: guardian.clone(),
                    student_id: student.to_owned(),
                    relation: id::Relation::Mother as i32,
                },
                |mut c, r| async move { c.link_guardian(r).await },
            )
            .await;
        let (_, username) = self
            .school
            .identity
            .account(&self.school.school_id, &guardian)
            .await;
        let token = self.school.identity.token(&username).await;
        let pool = self.pool.clone();
        let person = guardian.clone();
        eventually(
            "messaging knows the guardian",
            Duration::from_secs(10),
            || {
                let pool = pool.clone();
                let person = person.clone();
                async move {
                    let known: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM guardianships WHERE guardian_id = $1::uuid)",
                    )
                    .bind(person)
                    .fetch_one(&pool)
                    .await
                    .ok()?;
                    known.then_some(())
                }
            },
        )
        .await;
        (guardian, token)
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

/// Uploads `bytes` as `name` for `school`, as `token`, in 64 KiB chunks.
pub async fn upload(
    stack: &Stack,
    token: &str,
    school: &str,
    name: &str,
    bytes: &[u8],
) -> Result<pb::Attachment, tonic::Status> {
    let mut chunks = vec![pb::UploadAttachmentChunk {
        part: Some(Part::Header(pb::AttachmentHeader {
            school_id: school.to_owned(),
            file_name: name.to_owned(),
        })),
    }];
    chunks.extend(
        bytes
            .chunks(64 * 1024)
            .map(|data| pb::UploadAttachmentChunk {
                part: Some(Part::Data(data.to_vec())),
            }),
    );
    stack
        .client()
        .upload_attachment(with_token(tokio_stream::iter(chunks), token))
        .await
        .map(|a| a.into_inner())
}

/// The attachment's description and bytes, as `token` downloads them.
pub async fn download(
    stack: &Stack,
    token: &str,
    id: &str,
    thumbnail: bool,
) -> Result<(pb::Attachment, Vec<u8>), tonic::Status> {
    let mut stream = stack
        .client()
        .download_attachment(with_token(
            pb::DownloadAttachmentRequest {
                attachment_id: id.to_owned(),
                thumbnail,
            },
            token,
        ))
        .await?
        .into_inner();
    let mut described = None;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        if let Some(attachment) = chunk.attachment {
            described = Some(attachment);
        }
        bytes.extend_from_slice(&chunk.data);
    }
    Ok((described.expect("the first chunk describes it"), bytes))
}
