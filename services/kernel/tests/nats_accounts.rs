//! The NATS accounts of deploy/nats/accounts.sh, on a nats-server of the test's
//! own: no anonymous access, each service publishes only on its own subjects, and
//! a district's subscriber receives its district's attendance events, nothing of
//! another district, and can publish nothing; with a certificate, clients speak
//! TLS and trust only the CA they are given.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt as _;
use kernel::config::{KernelConfig, NatsCredentials, ServiceId};
use kernel::outbox::ensure_stream;
use kernel::testing::test_pki;
use secrecy::SecretString;
use tokio::process::{Child, Command};

const DISTRICT: &str = "7c1e1f0a-8d2b-4c3e-9f10-000000000001";
const OTHER_DISTRICT: &str = "7c1e1f0a-8d2b-4c3e-9f10-000000000002";

/// A nats-server with the generated accounts, on a free port, stopped on drop.
struct Server {
    url: String,
    credentials: PathBuf,
    _dir: TempDir,
    _process: Child,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    async fn start() -> Self {
        Self::start_with(|_| Vec::new()).await
    }

    /// Started with further arguments to accounts.sh, made from the server's
    /// directory.
    async fn start_with(arguments: impl FnOnce(&Path) -> Vec<String>) -> Self {
        let dir = std::env::temp_dir().join(format!("lienlac-nats-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let arguments = arguments(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats/accounts.sh");
        let credentials = dir.join("credentials.env");
        let generated = Command::new("bash")
            .arg(&script)
            .args(["--credentials", credentials.to_str().unwrap()])
            .args(["--store", dir.join("jetstream").to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--district", DISTRICT, "--district", OTHER_DISTRICT])
            .args(arguments)
            .output()
            .await
            .unwrap();
        assert!(generated.status.success(), "{generated:?}");
        let config = dir.join("nats.conf");
        std::fs::write(&config, generated.stdout).unwrap();
        let process = Command::new(nats_server())
            .arg("-c")
            .arg(&config)
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server runs (deploy/local/stack.sh installs it)");
        let url = format!("nats://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            url,
            credentials,
            _dir: TempDir(dir),
            _process: process,
        }
    }

    fn password(&self, key: &str) -> String {
        std::fs::read_to_string(&self.credentials)
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")).map(str::to_owned))
            .unwrap_or_else(|| panic!("{key} in the credentials"))
    }

    /// One attempt to connect with `credentials` through the kernel's options.
    async fn connect_with(
        &self,
        credentials: NatsCredentials,
    ) -> Result<async_nats::Client, async_nats::ConnectError> {
        kernel::nats::options(&credentials)
            .await
            .unwrap()
            .max_reconnects(Some(1))
            .connection_timeout(Duration::from_secs(2))
            .connect(&self.url)
            .await
    }

    async fn connect(&self, user: &str, password_key: &str) -> async_nats::Client {
        async_nats::ConnectOptions::with_user_and_password(
            user.to_owned(),
            self.password(password_key),
        )
        .connect(&self.url)
        .await
        .unwrap()
    }

    /// `service`'s own credentials, as a service reads them.
    fn credentials(&self, service: ServiceId) -> NatsCredentials {
        let upper = service.name.to_ascii_uppercase();
        NatsCredentials {
            user: Some(service.name.to_owned()),
            password: Some(SecretString::from(
                self.password(&format!("{upper}_NATS_PASSWORD")),
            )),
            ..NatsCredentials::default()
        }
    }

    /// The kernel's own connection for `service`, as a service makes it.
    async fn service(&self, service: ServiceId) -> (KernelConfig, jetstream::Context) {
        let mut config = KernelConfig::defaults(service);
        config.nats_url = self.url.clone();
        config.nats_credentials = self.credentials(service);
        let client = kernel::nats::connect(&config).await;
        let mut jetstream = jetstream::new(client);
        jetstream.set_timeout(Duration::from_secs(2));
        (config, jetstream)
    }
}

fn nats_server() -> PathBuf {
    [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.exists())
    .unwrap_or_else(|| PathBuf::from("nats-server"))
}

fn attendance_subject(district: &str) -> String {
    format!("lienlac.attendance.v1.{district}._.StudentAbsenceRecorded")
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_connects_without_credentials() {
    let server = Server::start().await;
    let anonymous = async_nats::connect(&server.url).await;
    assert!(anonymous.is_err(), "an anonymous connection is refused");
    let wrong =
        async_nats::ConnectOptions::with_user_and_password("attendance".into(), "guess".into())
            .connect(&server.url)
            .await;
    assert!(wrong.is_err(), "a wrong password is refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_publishes_on_its_own_subjects_only() {
    let server = Server::start().await;
    let (identity_config, identity) = server.service(ServiceId::IDENTITY).await;
    ensure_stream(&identity, &identity_config).await.unwrap();
    let (attendance_config, attendance) = server.service(ServiceId::ATTENDANCE).await;
    ensure_stream(&attendance, &attendance_config)
        .await
        .unwrap();

    let own = attendance
        .publish(attendance_subject(DISTRICT), "own".into())
        .await
        .unwrap()
        .await;
    assert!(own.is_ok(), "{own:?}");
    let forged_subject = format!("lienlac.identity.v1.{DISTRICT}._.StudentEnrolled");
    let forged = attendance
        .publish(forged_subject.clone(), "forged".into())
        .await
        .unwrap()
        .await;
    assert!(
        forged.is_err(),
        "attendance cannot publish identity's events"
    );
    let genuine = identity
        .publish(forged_subject, "genuine".into())
        .await
        .unwrap()
        .await;
    assert!(
        genuine.is_ok(),
        "the same subject is identity's: {genuine:?}"
    );
    let deleted = attendance
        .delete_stream(identity_config.stream_name())
        .await;
    assert!(deleted.is_err(), "nor delete identity's stream");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_district_subscriber_reads_its_district_only_and_publishes_nothing() {
    let server = Server::start().await;
    let (config, attendance) = server.service(ServiceId::ATTENDANCE).await;
    ensure_stream(&attendance, &config).await.unwrap();
    let key = format!("DISTRICT_{}_NATS_PASSWORD", DISTRICT.replace('-', "_"));
    let subscriber = server.connect(&format!("district-{DISTRICT}"), &key).await;
    let mut own = subscriber
        .subscribe(format!("lienlac.attendance.v1.{DISTRICT}.>"))
        .await
        .unwrap();
    // A subscription beyond the district is refused by the server; nothing arrives on it.
    let mut everything = subscriber
        .subscribe("lienlac.attendance.v1.>".to_owned())
        .await
        .unwrap();
    subscriber.flush().await.unwrap();
    for district in [OTHER_DISTRICT, DISTRICT] {
        attendance
            .publish(attendance_subject(district), district.to_owned().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let received = tokio::time::timeout(Duration::from_secs(5), own.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received.subject.as_str(), attendance_subject(DISTRICT));
    assert_eq!(received.payload.as_ref(), DISTRICT.as_bytes());
    let more = tokio::time::timeout(Duration::from_millis(500), own.next()).await;
    assert!(more.is_err(), "nothing of another district: {more:?}");
    let beyond = tokio::time::timeout(Duration::from_millis(500), everything.next()).await;
    assert!(
        !matches!(beyond, Ok(Some(ref message)) if message.subject.as_str() == attendance_subject(OTHER_DISTRICT)),
        "{beyond:?}"
    );

    // Messaging's public events of the district arrive too.
    let (config, messaging) = server.service(ServiceId::MESSAGING).await;
    ensure_stream(&messaging, &config).await.unwrap();
    let mut announcements = subscriber
        .subscribe(format!("lienlac.messaging.v1.{DISTRICT}.>"))
        .await
        .unwrap();
    subscriber.flush().await.unwrap();
    let announced = format!("lienlac.messaging.v1.{DISTRICT}._.AnnouncementPublished");
    messaging
        .publish(announced.clone(), "announced".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let received = tokio::time::timeout(Duration::from_secs(5), announcements.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received.subject.as_str(), announced);

    let publish = jetstream::new(subscriber)
        .publish(attendance_subject(DISTRICT), "forged".into())
        .await
        .unwrap()
        .await;
    assert!(publish.is_err(), "a subscriber publishes nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn services_speak_tls_to_nats_and_trust_only_their_ca() {
    let mut pki = None;
    let server = Server::start_with(|dir| {
        let tls = test_pki(&dir.join("pki"));
        let arguments = vec![
            "--tls-cert".to_owned(),
            tls.cert_file.clone().unwrap().display().to_string(),
            "--tls-key".to_owned(),
            tls.key_file.clone().unwrap().display().to_string(),
        ];
        pki = Some(tls);
        arguments
    })
    .await;
    let ca = pki.unwrap().ca_file;

    let mut credentials = server.credentials(ServiceId::ATTENDANCE);
    credentials.ca_file = ca;
    let mut config = KernelConfig::defaults(ServiceId::ATTENDANCE);
    config.nats_url = server.url.clone();
    config.nats_credentials = credentials.clone();
    let client = tokio::time::timeout(Duration::from_secs(20), kernel::nats::connect(&config))
        .await
        .expect("the service connects over TLS with the CA");
    let attendance = jetstream::new(client);
    ensure_stream(&attendance, &config).await.unwrap();
    let published = attendance
        .publish(attendance_subject(DISTRICT), "over tls".into())
        .await
        .unwrap()
        .await;
    assert!(published.is_ok(), "{published:?}");

    let without_ca = server
        .connect_with(server.credentials(ServiceId::ATTENDANCE))
        .await;
    assert!(
        without_ca.is_err(),
        "a client that does not trust the server's CA cannot connect"
    );
    let strangers_ca = test_pki(
        &std::env::temp_dir().join(format!("lienlac-nats-other-ca-{}", uuid::Uuid::now_v7())),
    );
    credentials.ca_file = strangers_ca.ca_file.clone();
    let untrusted = server.connect_with(credentials).await;
    let _ = std::fs::remove_dir_all(strangers_ca.ca_file.unwrap().parent().unwrap());
    assert!(
        untrusted.is_err(),
        "a server whose certificate another CA signed is not trusted"
    );
}
