//! Where attachments' bytes are kept: a local directory, or an S3-compatible
//! bucket (config.rs `S3Settings`), behind the one object-store interface the rest
//! of attachments/ uses.

use std::sync::Arc;

use anyhow::Context as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use secrecy::ExposeSecret as _;

use crate::config::S3Settings;

/// The bucket `s3` when one is configured, else the directory `dir`.
pub(crate) async fn open(
    dir: &std::path::Path,
    s3: Option<&S3Settings>,
) -> anyhow::Result<Arc<dyn ObjectStore>> {
    match s3 {
        None => {
            std::fs::create_dir_all(dir)?;
            Ok(Arc::new(LocalFileSystem::new_with_prefix(dir)?))
        }
        Some(s3) => Ok(Arc::new(bucket(s3).await?)),
    }
}

/// The bucket, once it answered: a wrong name, endpoint or key fails the start,
/// not a parent's first upload.
async fn bucket(s3: &S3Settings) -> anyhow::Result<object_store::aws::AmazonS3> {
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_access_key_id(&s3.access_key_id)
        .with_secret_access_key(s3.secret_access_key.expose_secret());
    if let Some(endpoint) = &s3.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    let store = builder
        .build()
        .context("MESSAGING_S3_*: the attachments bucket")?;
    match store.head(&Path::from("lienlac-start-probe")).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(store),
        Err(error) => Err(anyhow::anyhow!(
            "the attachments bucket {:?} does not answer: {error}",
            s3.bucket
        )),
    }
}
