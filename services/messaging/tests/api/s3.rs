//! Attachments kept in an S3-compatible bucket by configuration alone: an S3
//! server (s3s-fs over a temporary directory) runs in the test, and lienlac keeps
//! uploads there and serves them itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use kernel::config::ServiceId;
use kernel::testing::{TestWorld, request_id, with_token};
use lienlac_proto::messaging::v1 as pb;
use messaging::config::S3Settings;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use crate::helpers::{Stack, download, upload};

const BUCKET: &str = "lienlac-attachments";
const ACCESS_KEY: &str = "lienlac-test";
const SECRET_KEY: &str = "lienlac-test-secret";

/// An S3 server on a free port keeping `BUCKET` under `root`, for the test's life.
async fn s3_server(root: &Path) -> SocketAddr {
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let store = s3s_fs::FileSystem::new(root).expect("an s3s-fs root");
    let mut service = S3ServiceBuilder::new(store);
    service.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = service.build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn bucket_at(addr: SocketAddr, secret: &str) -> S3Settings {
    S3Settings {
        endpoint: Some(format!("http://{addr}")),
        bucket: BUCKET.to_owned(),
        region: "us-east-1".to_owned(),
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: secret.to_owned().into(),
    }
}

fn scratch(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lienlac-{what}-{}", uuid::Uuid::now_v7()))
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_bucket_configured_uploads_are_kept_in_it_and_served_by_lienlac() {
    let root = scratch("s3");
    let addr = s3_server(&root).await;
    let stack = Stack::start_with(|settings| settings.s3 = Some(bucket_at(addr, SECRET_KEY))).await;
    let school = &stack.school;
    let photo = {
        let mut bytes = Vec::new();
        image::DynamicImage::new_rgb8(640, 480)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    };
    let uploaded = upload(
        &stack,
        &school.homeroom,
        &school.school_id,
        "lop.png",
        &photo,
    )
    .await
    .unwrap();
    let in_bucket = root.join(BUCKET).join(&school.school_id);
    let kept = std::fs::read(in_bucket.join(&uploaded.id)).unwrap();
    assert!(
        in_bucket
            .join(format!("{}.thumbnail.jpg", uploaded.id))
            .exists()
    );
    assert!(
        !stack.attachments_dir.join(&school.school_id).exists(),
        "nothing in the local directory"
    );

    stack
        .client()
        .post_message(with_token(
            pb::PostMessageRequest {
                request_id: request_id(),
                conversation_id: school.class_id.clone(),
                body: "Ảnh giờ học vẽ".into(),
                attachment_ids: vec![uploaded.id.clone()],
                ..Default::default()
            },
            &school.homeroom,
        ))
        .await
        .unwrap();
    let (described, bytes) = download(&stack, &school.guardian, &uploaded.id, false)
        .await
        .unwrap();
    assert_eq!((described.size, &bytes), (kept.len() as i64, &kept));
    let (_, thumbnail) = download(&stack, &school.guardian, &uploaded.id, true)
        .await
        .unwrap();
    assert_eq!(image::load_from_memory(&thumbnail).unwrap().width(), 320);
    let outsider = download(&stack, &school.other_homeroom, &uploaded.id, false).await;
    assert_eq!(outsider.unwrap_err().code(), tonic::Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_that_refuses_the_key_stops_the_start_and_is_named() {
    let addr = s3_server(&scratch("s3")).await;
    let world = TestWorld::new();
    let mut settings = messaging::Settings::defaults(world.config(ServiceId::MESSAGING));
    settings.attachments_dir = scratch("attachments");
    settings.s3 = Some(bucket_at(addr, "not-the-secret"));
    let refused = messaging::Application::build(settings)
        .await
        .err()
        .expect("the start fails");
    assert!(
        refused.to_string().contains(BUCKET),
        "names the bucket: {refused:#}"
    );
}
