//! Notices beyond the app, against a stand-in that speaks the protocol: a Web
//! Push service that checks each request's VAPID signature and decrypts its
//! body with the test browser's keys (RFC 8291, 8292). A guardian's browser is
//! told of an absence once, in words naming the child; a subscription the push
//! service says is gone is forgotten.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::time::Duration;

use aes_gcm::aead::{Aead as _, KeyInit as _};
use aes_gcm::{Aes128Gcm, Nonce};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{absent, deliveries};
use hkdf::Hkdf;
use kernel::testing::{TestWorld, channel, eventually, request_id, with_token};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_test_stack::{SchoolDay, start_school_day_with};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::{PublicKey, SecretKey};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One request the push service took.
struct Pushed {
    subscription: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A push service on loopback: `/push/gone-…` answers 410 as for an expired
/// subscription, any other `/push/…` 201.
async fn push_service() -> (String, mpsc::UnboundedReceiver<Pushed>) {
    let (sender, received) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/push/{subscription}",
            post(
                |State(sender): State<mpsc::UnboundedSender<Pushed>>,
                 Path(subscription): Path<String>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    let gone = subscription.starts_with("gone");
                    sender
                        .send(Pushed {
                            subscription,
                            headers,
                            body: body.to_vec(),
                        })
                        .unwrap();
                    if gone {
                        StatusCode::GONE
                    } else {
                        StatusCode::CREATED
                    }
                },
            ),
        )
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (origin, received)
}

/// A browser's subscription keys.
struct Browser {
    key: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        let mut auth = [0u8; 16];
        getrandom::fill(&mut auth).unwrap();
        Self {
            key: SecretKey::from_slice(&bytes).unwrap(),
            auth,
        }
    }

    fn public(&self) -> Vec<u8> {
        self.key.public_key().to_sec1_bytes().to_vec()
    }

    /// RFC 8291 §3 from the browser's side: the plaintext of an `aes128gcm` body.
    fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        let salt = &body[..16];
        let id_length = usize::from(body[20]);
        let sender = PublicKey::from_sec1_bytes(&body[21..21 + id_length]).unwrap();
        let ciphertext = &body[21 + id_length..];
        let shared = self.key.diffie_hellman(&sender);
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(&self.public());
        info.extend_from_slice(&body[21..21 + id_length]);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes().as_slice())
            .expand(&info, &mut ikm)
            .unwrap();
        let content = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut key, mut nonce) = ([0u8; 16], [0u8; 12]);
        content
            .expand(b"Content-Encoding: aes128gcm\0", &mut key)
            .unwrap();
        content
            .expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let mut record = Aes128Gcm::new_from_slice(&key)
            .unwrap()
            .decrypt(&Nonce::try_from(&nonce[..]).unwrap(), ciphertext)
            .expect("the body decrypts with the subscription's keys");
        while record.last() == Some(&0) {
            record.pop();
        }
        assert_eq!(record.pop(), Some(2), "the last record's delimiter");
        record
    }
}

/// Checks the VAPID `Authorization` of a push to `origin`; returns its key.
fn verified_vapid(headers: &HeaderMap, origin: &str) -> String {
    let authorization = headers["authorization"].to_str().unwrap();
    let (jwt, key) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .expect("vapid t=…, k=…");
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    verifying
        .verify(signed.as_bytes(), &signature)
        .expect("the JWT is signed by the key it names");
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signed.split_once('.').unwrap().1)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], origin);
    assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));
    key.to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guardians_browser_is_told_of_an_absence_once_encrypted_and_signed() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let (origin, mut pushed) = push_service().await;
    let listed = origin.clone();
    let SchoolDay {
        attendance,
        messaging,
        school,
        ..
    } = start_school_day_with(&world, &stop, move |settings| {
        settings.delivery.push_services = vec![listed];
        settings.delivery.every = Duration::from_millis(100);
    })
    .await;
    let messaging = MessagingServiceClient::new(channel(messaging));
    let browser = Browser::new();
    let register = |address: String| {
        with_token(
            pb::RegisterDeviceRequest {
                channel: pb::Channel::Push as i32,
                address,
                p256dh: URL_SAFE_NO_PAD.encode(browser.public()),
                auth: URL_SAFE_NO_PAD.encode(browser.auth),
            },
            &school.guardian,
        )
    };
    messaging
        .clone()
        .register_device(register(format!("{origin}/push/phone")))
        .await
        .unwrap();
    messaging
        .clone()
        .register_device(register(format!("{origin}/push/gone-laptop")))
        .await
        .unwrap();
    let refused = messaging
        .clone()
        .register_device(register("https://push.example.net/x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    let server_key = messaging
        .clone()
        .get_push_key(with_token(pb::GetPushKeyRequest {}, &school.guardian))
        .await
        .unwrap()
        .into_inner()
        .public_key;

    absent(
        attendance,
        &school,
        &school.students[0],
        att::Session::Morning,
    )
    .await;

    let mut texts = Vec::new();
    for _ in 0..2 {
        let request = tokio::time::timeout(Duration::from_secs(15), pushed.recv())
            .await
            .expect("a push within 15 seconds")
            .unwrap();
        assert_eq!(verified_vapid(&request.headers, &origin), server_key);
        assert_eq!(request.headers["content-encoding"], "aes128gcm");
        assert_eq!(request.headers["urgency"], "high");
        let message: serde_json::Value =
            serde_json::from_slice(&browser.decrypt(&request.body)).unwrap();
        texts.push((
            request.subscription,
            message["body"].as_str().unwrap().to_owned(),
        ));
    }
    texts.sort();
    assert_eq!(texts[0].0, "gone-laptop");
    assert_eq!(texts[1].0, "phone");
    for (_, text) in &texts {
        assert!(
            text.starts_with("Thông báo: em ") && text.contains("vắng buổi sáng"),
            "{text}"
        );
    }

    let notices = messaging
        .clone()
        .list_notices(with_token(
            pb::ListNoticesRequest::default(),
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner()
        .notices;
    assert_eq!(notices.len(), 1);
    let sent = eventually("the push recorded as sent", Duration::from_secs(10), || {
        let messaging = messaging.clone();
        let notice = notices[0].id.clone();
        let token = school.guardian.clone();
        async move {
            let of_notice = messaging
                .clone()
                .list_notice_deliveries(with_token(pb::NoticeRef { notice_id: notice }, &token))
                .await
                .unwrap()
                .into_inner()
                .deliveries;
            of_notice
                .iter()
                .all(|d| d.state == "sent")
                .then_some(of_notice)
        }
    })
    .await;
    assert_eq!(sent.len(), 1, "one delivery by push: {sent:?}");
    assert_eq!(sent[0].channel, pb::Channel::Push as i32);
    // Read in the app: the delivery that carried it is read too.
    messaging
        .clone()
        .mark_notice_read(with_token(
            pb::NoticeRef {
                notice_id: notices[0].id.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap();
    let read = messaging
        .clone()
        .list_notice_deliveries(with_token(
            pb::NoticeRef {
                notice_id: notices[0].id.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(read[0].state, "read");
    let devices = messaging
        .clone()
        .list_devices(with_token(pb::ListDevicesRequest {}, &school.guardian))
        .await
        .unwrap()
        .into_inner()
        .devices;
    assert_eq!(devices.len(), 1, "the gone subscription is forgotten");
    assert!(devices[0].address.ends_with("/push/phone"));
    assert!(
        tokio::time::timeout(Duration::from_secs(2), pushed.recv())
            .await
            .is_err(),
        "nothing is pushed twice"
    );

    // An emergency goes out at once, whatever the hour; only leaders send one.
    let announce = |emergency: bool, token: &str, title: &str| {
        let mut messaging = messaging.clone();
        let request = with_token(
            pb::PublishAnnouncementRequest {
                request_id: request_id(),
                audience: Some(pb::Audience {
                    scope: Some(pb::audience::Scope::ClassId(school.class_id.clone())),
                }),
                title: title.to_owned(),
                body: "Học sinh nghỉ học ngày mai. Phụ huynh đón con trước 11 giờ.".to_owned(),
                emergency,
                ..Default::default()
            },
            token,
        );
        async move { messaging.publish_announcement(request).await }
    };
    let refused = announce(true, &school.homeroom, "Khẩn").await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    announce(true, &school.principal, "Nghỉ học do bão")
        .await
        .unwrap();
    let request = tokio::time::timeout(Duration::from_secs(15), pushed.recv())
        .await
        .expect("the emergency pushed within 15 seconds")
        .unwrap();
    let message: serde_json::Value =
        serde_json::from_slice(&browser.decrypt(&request.body)).unwrap();
    assert_eq!(message["title"], "Nghỉ học do bão");
    assert!(
        message["body"]
            .as_str()
            .unwrap()
            .starts_with("THÔNG BÁO KHẨN: Nghỉ học do bão.")
    );

    // A guardian who chose the daily digest gets other announcements at 19:00.
    messaging
        .clone()
        .set_delivery_preferences(with_token(
            pb::DeliveryPreferences {
                channels: vec![pb::Channel::Push as i32],
                daily_digest: true,
                ..Default::default()
            },
            &school.guardian,
        ))
        .await
        .unwrap();
    let announced = announce(false, &school.principal, "Họp phụ huynh cuối kỳ")
        .await
        .unwrap()
        .into_inner();
    let waiting = deliveries(&messaging, &school, "queued").await;
    let digest = waiting
        .iter()
        .find(|d| d.notice_id == announced.id)
        .expect("the announcement waits for the digest");
    assert!(digest.digest && digest.announcement);
    assert!(
        digest.due_at.contains("T12:00:00"),
        "19:00 in Việt Nam: {}",
        digest.due_at
    );
    stop.cancel();
}

/// One email the sink took.
struct Mail {
    to: String,
    data: String,
}

/// An SMTP server on loopback that takes every message, but refuses recipients
/// whose address starts with `refused` (550, a permanent refusal).
async fn smtp_sink() -> (String, mpsc::UnboundedReceiver<Mail>) {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

    let (sender, received) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let sender = sender.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut to = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let command = line.to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("RCPT TO:") {
                        to = line[8..].trim().trim_matches(['<', '>']).to_owned();
                        if to.starts_with("refused") {
                            b"550 5.1.1 no such mailbox\r\n"
                        } else {
                            b"250 OK\r\n"
                        }
                    } else if command == "DATA" {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if line == "." {
                                break;
                            }
                            data.push_str(&line);
                            data.push('\n');
                        }
                        let _ = sender.send(Mail {
                            to: to.clone(),
                            data,
                        });
                        b"250 OK queued\r\n"
                    } else if command == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 OK\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, received)
}

/// The text of a `text/plain` base64 message.
fn body_of(mail: &Mail) -> String {
    let (_, body) = mail.data.split_once("\n\n").unwrap();
    let joined: String = body.split_whitespace().collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guardians_email_carries_the_notice_and_a_refused_address_is_a_dead_letter() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let (url, mut mails) = smtp_sink().await;
    let SchoolDay {
        attendance,
        messaging,
        school,
        ..
    } = start_school_day_with(&world, &stop, move |settings| {
        settings.delivery.smtp_url = Some(url);
        settings.delivery.every = Duration::from_millis(100);
    })
    .await;
    let messaging = MessagingServiceClient::new(channel(messaging));
    let register = |address: &str| {
        let mut messaging = messaging.clone();
        let request = with_token(
            pb::RegisterDeviceRequest {
                channel: pb::Channel::Email as i32,
                address: address.to_owned(),
                ..Default::default()
            },
            &school.guardian,
        );
        async move { messaging.register_device(request).await }
    };
    let deliveries_of = |notice: String| {
        let mut messaging = messaging.clone();
        let token = school.guardian.clone();
        async move {
            messaging
                .list_notice_deliveries(with_token(pb::NoticeRef { notice_id: notice }, &token))
                .await
                .unwrap()
                .into_inner()
                .deliveries
        }
    };
    let newest_notice = || {
        let mut messaging = messaging.clone();
        let token = school.guardian.clone();
        async move {
            messaging
                .list_notices(with_token(pb::ListNoticesRequest::default(), &token))
                .await
                .unwrap()
                .into_inner()
                .notices
        }
    };

    let refused = register("not an address").await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    register("refused@truong.edu.vn").await.unwrap();
    absent(
        attendance,
        &school,
        &school.students[0],
        att::Session::Morning,
    )
    .await;
    let notices = eventually("the morning notice", Duration::from_secs(15), || async {
        let notices = newest_notice().await;
        (!notices.is_empty()).then_some(notices)
    })
    .await;
    let dead = eventually("a dead letter", Duration::from_secs(15), || {
        let deliveries = deliveries_of(notices[0].id.clone());
        async move { deliveries.await.into_iter().find(|d| d.state == "failed") }
    })
    .await;
    assert_eq!(dead.channel, pb::Channel::Email as i32);
    assert!(dead.last_error.contains("550"), "{}", dead.last_error);

    let devices = messaging
        .clone()
        .list_devices(with_token(pb::ListDevicesRequest {}, &school.guardian))
        .await
        .unwrap()
        .into_inner()
        .devices;
    messaging
        .clone()
        .unregister_device(with_token(
            pb::UnregisterDeviceRequest {
                device_id: devices[0].id.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap();
    register("Me.Phuc@Truong.edu.vn").await.unwrap();
    absent(
        attendance,
        &school,
        &school.students[0],
        att::Session::Afternoon,
    )
    .await;
    let mail = tokio::time::timeout(Duration::from_secs(15), mails.recv())
        .await
        .expect("an email within 15 seconds")
        .unwrap();
    assert_eq!(mail.to, "Me.Phuc@truong.edu.vn");
    let text = body_of(&mail);
    assert!(
        text.starts_with("Thông báo: em ") && text.contains("vắng buổi chiều"),
        "{text}"
    );
    assert!(mail.data.contains("Subject: "), "{}", mail.data);
    stop.cancel();
}
