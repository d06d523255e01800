//! Notices by SMS and Zalo, against stand-ins that answer as the providers do: an
//! SMS provider in eSMS.vn's request shape (a 503 with Retry-After first, then
//! CodeResult 100; receipts by callback; STOP replies) and the Zalo OA API (an
//! access token refreshed when ZNS says it expired; `user_received_message`
//! events). A guardian who never activated an account is reached at once on the
//! school's paid channel; one with the app only if the notice is still unread
//! when the fallback is due; each paid message records its cost.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use common::{absent, deliveries};
use kernel::testing::{TestWorld, channel, eventually, request_id, with_token};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_test_stack::{SchoolDay, start_school_day_with};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the stand-ins were sent: (path, headers' access_token, body).
type Sent = (String, String, Value);

#[derive(Clone)]
struct Providers {
    sent: mpsc::UnboundedSender<Sent>,
    /// SMS requests answered so far (the first gets a 503).
    sms_calls: Arc<Mutex<u32>>,
    /// Tokens the OAuth endpoint has issued (the first is refused by ZNS once).
    tokens_issued: Arc<Mutex<u32>>,
}

/// A JSON answer, as the providers give one.
fn answer(value: Value) -> axum::response::Response {
    ([("Content-Type", "application/json")], value.to_string()).into_response()
}

async fn sms_send(
    State(providers): State<Providers>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    let calls = {
        let mut calls = providers.sms_calls.lock().unwrap();
        *calls += 1;
        *calls
    };
    providers
        .sent
        .send(("/sms".to_owned(), String::new(), body.clone()))
        .unwrap();
    if calls == 1 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("Retry-After", "1")],
            "busy",
        )
            .into_response();
    }
    if body["ApiKey"] != "api-key" || body["SecretKey"] != "secret-key" {
        return answer(json!({"CodeResult": "101", "ErrorMessage": "Authorize Failed"}))
            .into_response();
    }
    answer(json!({"CodeResult": "100", "CountRegenerate": 0, "SMSID": format!("sms-{calls}")}))
        .into_response()
}

async fn zalo_oauth(
    State(providers): State<Providers>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    assert_eq!(headers["secret_key"], "zalo-secret");
    let issued = {
        let mut issued = providers.tokens_issued.lock().unwrap();
        *issued += 1;
        *issued
    };
    assert!(
        body.contains(&format!("refresh_token=ref-{}", issued - 1)),
        "each refresh uses the refresh token Zalo gave last: {body}"
    );
    assert!(body.contains("grant_type=refresh_token") && body.contains("app_id=zalo-app"));
    answer(json!({
        "access_token": format!("tok-{issued}"),
        "refresh_token": format!("ref-{issued}"),
        "expires_in": "90000"
    }))
    .into_response()
}

async fn zns_send(
    State(providers): State<Providers>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let token = headers["access_token"].to_str().unwrap().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap();
    providers
        .sent
        .send(("/zns".to_owned(), token.clone(), body))
        .unwrap();
    if token == "tok-1" {
        return answer(json!({"error": -124, "message": "Access token is invalid"}))
            .into_response();
    }
    answer(json!({"error": 0, "message": "Success", "data": {"msg_id": "zns-1", "sent_time": "0"}}))
        .into_response()
}

async fn providers() -> (String, mpsc::UnboundedReceiver<Sent>) {
    let (sent, received) = mpsc::unbounded_channel();
    let state = Providers {
        sent,
        sms_calls: Arc::new(Mutex::new(0)),
        tokens_issued: Arc::new(Mutex::new(0)),
    };
    let app = Router::new()
        .route("/sms/send", post(sms_send))
        .route("/zalo/oauth/v4/oa/access_token", post(zalo_oauth))
        .route("/zalo/message/template", post(zns_send))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (origin, received)
}

async fn next(sent: &mut mpsc::UnboundedReceiver<Sent>, what: &str) -> Sent {
    tokio::time::timeout(Duration::from_secs(20), sent.recv())
        .await
        .unwrap_or_else(|_| panic!("{what} within 20 seconds"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sms_and_zalo_reach_a_guardian_without_the_app_at_once_and_one_with_it_only_while_unread() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let (origin, mut sent) = providers().await;
    let config = origin.clone();
    let SchoolDay {
        identity,
        attendance,
        messaging: messaging_addr,
        school,
        ..
    } = start_school_day_with(&world, &stop, move |settings| {
        settings.public_url = "https://lienlac.test".to_owned();
        settings.delivery.every = Duration::from_millis(100);
        settings.delivery.sms = Some(messaging::config::SmsSettings {
            url: format!("{config}/sms/send"),
            api_key: "api-key".to_owned(),
            secret_key: "secret-key".to_owned().into(),
            brandname: "LIENLAC".to_owned(),
            price_vnd: 800,
            per_second: 30,
        });
        settings.delivery.zalo = Some(messaging::config::ZaloSettings {
            url: format!("{config}/zalo"),
            oauth_url: format!("{config}/zalo/oauth"),
            app_id: "zalo-app".to_owned(),
            secret_key: "zalo-secret".to_owned().into(),
            refresh_token: "ref-0".to_owned().into(),
            template_id: "tpl-absence".to_owned(),
            price_vnd: 300,
            per_second: 50,
        });
    })
    .await;
    let messaging = MessagingServiceClient::new(channel(messaging_addr));

    // A guardian of the second child who never activated an account.
    let mut directory = DirectoryServiceClient::new(channel(identity));
    let phone = "0987654321";
    let guardian = directory
        .register_guardian(with_token(
            id::RegisterGuardianRequest {
                request_id: request_id(),
                school_id: school.school_id.clone(),
                full_name: "Trần Thị Mai".to_owned(),
                phone: phone.to_owned(),
                ..Default::default()
            },
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    directory
        .link_guardian(with_token(
            id::LinkGuardianRequest {
                request_id: request_id(),
                guardian_id: guardian.clone(),
                student_id: school.students[1].clone(),
                relation: id::Relation::Mother as i32,
            },
            &school.principal,
        ))
        .await
        .unwrap();

    let pays_for = |channels: Vec<pb::Channel>| {
        let mut messaging = messaging.clone();
        let (school_id, token) = (school.school_id.clone(), school.principal.clone());
        async move {
            let mut policy = messaging
                .get_school_policy(with_token(
                    pb::GetSchoolPolicyRequest {
                        school_id: school_id.clone(),
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            policy.paid_channels = channels.into_iter().map(|c| c as i32).collect();
            messaging
                .set_school_policy(with_token(
                    pb::SetSchoolPolicyRequest {
                        request_id: request_id(),
                        policy: Some(policy),
                    },
                    &token,
                ))
                .await
                .unwrap();
        }
    };

    let http = reqwest::Client::new();

    // SMS: busy once, then taken; the receipt marks it delivered.
    pays_for(vec![pb::Channel::Sms]).await;
    let refused = messaging
        .clone()
        .set_school_policy(with_token(
            pb::SetSchoolPolicyRequest {
                request_id: request_id(),
                policy: Some(pb::SchoolPolicy {
                    school_id: school.school_id.clone(),
                    allowed: vec![pb::Classification::School as i32],
                    default_classification: pb::Classification::School as i32,
                    paid_channels: vec![pb::Channel::Push as i32],
                    ..Default::default()
                }),
            },
            &school.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::InvalidArgument,
        "push is not paid"
    );
    absent(
        attendance,
        &school,
        &school.students[1],
        att::Session::Morning,
    )
    .await;
    let (_, _, busy) = next(&mut sent, "the first SMS").await;
    let (_, _, sms) = next(&mut sent, "the SMS again after Retry-After").await;
    assert_eq!(
        busy["RequestId"], sms["RequestId"],
        "the same delivery, tried again"
    );
    assert_eq!(sms["Phone"], "84987654321");
    assert_eq!(
        (&sms["Brandname"], &sms["IsUnicode"], &sms["SmsType"]),
        (&json!("LIENLAC"), &json!("1"), &json!("2"))
    );
    let content = sms["Content"].as_str().unwrap();
    assert!(
        content.starts_with("Thông báo: em ") && content.contains("vắng buổi sáng"),
        "{content}"
    );
    let callback = sms["CallbackUrl"].as_str().unwrap();
    let path = callback.strip_prefix("https://lienlac.test").unwrap();
    let secret = path
        .strip_prefix("/webhooks/sms/")
        .and_then(|rest| rest.strip_suffix("/status"))
        .unwrap()
        .to_owned();
    let base = format!("http://{messaging_addr}");
    let forged = http
        .get(format!(
            "{base}/webhooks/sms/{}/status?SMSID=sms-2&SendStatus=5",
            "0".repeat(32)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        404,
        "a receipt without the secret is refused"
    );
    // A receipt may beat the record of the send (503): the provider calls again.
    let receipt = format!("{base}{path}?SMSID=sms-2&SendStatus=5");
    eventually("the receipt taken", Duration::from_secs(10), || async {
        let status = http.get(&receipt).send().await.unwrap().status();
        assert!(status == 200 || status == 503, "{status}");
        (status == 200).then_some(())
    })
    .await;

    let delivered = eventually("the SMS delivered", Duration::from_secs(10), || async {
        deliveries(&messaging, &school, "delivered").await.pop()
    })
    .await;
    assert_eq!(delivered.channel, pb::Channel::Sms as i32);
    assert_eq!(delivered.id, sms["RequestId"].as_str().unwrap());
    assert_eq!(
        (delivered.attempts, delivered.cost_vnd),
        (2, 1600),
        "two parts at 800 đ"
    );

    // STOP from the guardian's phone: told what it stops, by one last SMS.
    let reply = |content: &str| {
        http.post(format!("{base}/webhooks/sms/{secret}/reply"))
            .body(json!({"Phone": phone, "Content": content}).to_string())
            .send()
    };
    assert_eq!(reply("stop").await.unwrap().status(), 200);
    let (_, _, confirmation) = next(&mut sent, "the STOP's confirmation").await;
    let said = confirmation["Content"].as_str().unwrap();
    assert!(
        said.contains("kể cả thông báo vắng mặt và tin khẩn cấp") && said.contains("START"),
        "{said}"
    );

    // Zalo first, SMS as its fallback: ZNS refuses the first token as expired,
    // lienlac refreshes it and sends again.
    pays_for(vec![pb::Channel::Zalo, pb::Channel::Sms]).await;
    absent(
        attendance,
        &school,
        &school.students[1],
        att::Session::Afternoon,
    )
    .await;
    let (_, expired, first) = next(&mut sent, "a ZNS message").await;
    let (_, refreshed, zns) = next(&mut sent, "the ZNS message again").await;
    assert_eq!((expired.as_str(), refreshed.as_str()), ("tok-1", "tok-2"));
    assert_eq!(first["tracking_id"], zns["tracking_id"]);
    assert_eq!(
        (&zns["phone"], &zns["template_id"]),
        (&json!("84987654321"), &json!("tpl-absence"))
    );
    let data = &zns["template_data"];
    assert!(!data["student_name"].as_str().unwrap().is_empty());
    assert!(
        data["content"]
            .as_str()
            .unwrap()
            .contains("vắng buổi chiều"),
        "{data}"
    );
    let event = json!({
        "event_name": "user_received_message",
        "message": {"msg_id": "zns-1", "tracking_id": zns["tracking_id"]},
        "timestamp": "1764500000000"
    });
    let received = http
        .post(format!("{base}/webhooks/zalo/{secret}"))
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(received.status(), 200);
    let queued = deliveries(&messaging, &school, "queued").await;
    assert!(
        queued.is_empty(),
        "no SMS as Zalo's fallback after STOP: {queued:?}"
    );

    // The month's costs, for the principal and the district.
    let costs = |school_id: String, district_id: String, token: String| {
        let mut messaging = messaging.clone();
        async move {
            messaging
                .get_delivery_costs(with_token(
                    pb::GetDeliveryCostsRequest {
                        school_id,
                        district_id,
                        month: String::new(),
                    },
                    &token,
                ))
                .await
        }
    };
    let of_school = eventually(
        "Zalo's receipt counted",
        Duration::from_secs(10),
        || async {
            let costs = costs(
                school.school_id.clone(),
                String::new(),
                school.principal.clone(),
            )
            .await
            .unwrap()
            .into_inner();
            (costs.cost_vnd == 1900 && costs.schools[0].channels.iter().all(|c| c.delivered == 1))
                .then_some(costs)
        },
    )
    .await;
    let school_costs = &of_school.schools[0];
    assert_eq!((school_costs.notices, school_costs.free_notices), (2, 0));
    let by_channel: Vec<(i32, i32, i64)> = school_costs
        .channels
        .iter()
        .map(|c| (c.channel, c.sent, c.cost_vnd))
        .collect();
    assert_eq!(
        by_channel,
        vec![
            (pb::Channel::Zalo as i32, 1, 300),
            (pb::Channel::Sms as i32, 1, 1600)
        ]
    );
    let district = costs(
        String::new(),
        school.district_id.clone(),
        school.district_admin.clone(),
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(district.cost_vnd, 1900);
    assert!(
        district
            .schools
            .iter()
            .any(|s| s.school_id == school.school_id)
    );
    let denied = costs(
        String::new(),
        school.district_id.clone(),
        school.principal.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    // A guardian with the app: SMS only as the fallback of a notice still unread
    // when its time comes (the wait is cut short in the table), none once read.
    pays_for(vec![pb::Channel::Sms]).await;
    let schema = world.config(kernel::config::ServiceId::MESSAGING).schema;
    let mut admin = world.admin().await;

    let waiting_fallback = || async {
        eventually(
            "an SMS waiting as a fallback",
            Duration::from_secs(15),
            || async {
                deliveries(&messaging, &school, "queued")
                    .await
                    .into_iter()
                    .find(|d| d.fallback && d.channel == pb::Channel::Sms as i32)
            },
        )
        .await
    };
    // The schema is the test world's own name, not input.
    let due_now = |id: String| {
        let sql = format!("UPDATE {schema}.deliveries SET due_at = now() WHERE id = $1::uuid");
        (sqlx::AssertSqlSafe(sql), id)
    };
    absent(
        attendance,
        &school,
        &school.students[0],
        att::Session::Morning,
    )
    .await;
    let unread = waiting_fallback().await;
    let (sql, id) = due_now(unread.id.clone());
    sqlx::query(sql)
        .bind(&id)
        .execute(&mut admin)
        .await
        .unwrap();
    let (_, _, fallback) = next(&mut sent, "the fallback SMS").await;
    assert_eq!(fallback["RequestId"], json!(unread.id));
    assert!(
        fallback["Content"]
            .as_str()
            .unwrap()
            .contains("vắng buổi sáng")
    );

    absent(
        attendance,
        &school,
        &school.students[0],
        att::Session::Afternoon,
    )
    .await;
    let read_first = waiting_fallback().await;
    messaging
        .clone()
        .mark_notice_read(with_token(
            pb::NoticeRef {
                notice_id: read_first.notice_id.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap();
    let (sql, id) = due_now(read_first.id.clone());
    sqlx::query(sql)
        .bind(&id)
        .execute(&mut admin)
        .await
        .unwrap();
    eventually("the fallback skipped", Duration::from_secs(10), || async {
        deliveries(&messaging, &school, "skipped")
            .await
            .into_iter()
            .find(|d| d.id == read_first.id)
    })
    .await;
    stop.cancel();
}
