//! The messaging service's settings: the kernel's (docs/configuration.md).

use std::time::Duration;

use kernel::config::{ConfigError, Env, KernelConfig, ServiceId};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Settings {
    pub kernel: KernelConfig,
    /// Where attachments are kept (`MESSAGING_ATTACHMENTS_DIR`; `.local/attachments`
    /// under the working directory by default).
    pub attachments_dir: std::path::PathBuf,
    /// An S3-compatible bucket to keep attachments in instead of that directory,
    /// when `MESSAGING_S3_BUCKET` is set.
    pub s3: Option<S3Settings>,
    /// The largest attachment, in bytes (`MESSAGING_ATTACHMENT_MAX_BYTES`; 20 MB).
    pub attachment_max_bytes: usize,
    /// How long a download link lives (`MESSAGING_LINK_LIFETIME`; 5 minutes).
    pub link_lifetime: Duration,
    /// The address browsers reach the service at, for download links
    /// (`MESSAGING_PUBLIC_URL`, say `https://lienlac.quan1.edu.vn/messaging`); the
    /// links are paths on the service's address without it.
    pub public_url: String,
    /// How often the files of erased uploads are deleted from the store
    /// (`MESSAGING_PURGE_EVERY`; a minute).
    pub purge_every: Duration,
    /// How often announcements' receipts are published (`ReceiptsUpdated`),
    /// `MESSAGING_RECEIPTS_EVERY` ("30s", "2m"); 30 s by default.
    pub receipts_every: Duration,
    /// Delivery beyond the app (push, email, Zalo, SMS); off without a secret.
    pub delivery: DeliverySettings,
}

/// How notices leave the app (docs/configuration.md, docs/notifications.md).
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The secret identity knows messaging by (`MESSAGING_SERVICE_SECRET`, the
    /// `messaging=` entry of identity's `IDENTITY_SERVICE_SECRETS`): notices sent
    /// beyond the app name the child, asked of identity with messaging's own
    /// token. Without it every channel beyond the app is off.
    pub service_secret: Option<SecretString>,
    /// How often each channel looks for due deliveries (`MESSAGING_DELIVERY_EVERY`; 1 s).
    pub every: Duration,
    /// Whom push services may contact about lienlac's messages, in the VAPID
    /// signature (`MESSAGING_PUSH_CONTACT`, a `mailto:` or `https:` URL).
    pub push_contact: String,
    /// The push services lienlac sends to (`MESSAGING_PUSH_SERVICES`, comma-separated
    /// origins; the browsers' own by default).
    pub push_services: Vec<String>,
    /// Push messages a second at most (`MESSAGING_PUSH_PER_SECOND`; 200).
    pub push_per_second: u32,
    /// The SMTP server email goes through (`MESSAGING_SMTP_URL`,
    /// `smtps://user:password@smtp.example.vn`); email is off without it.
    pub smtp_url: Option<String>,
    /// The sender (`MESSAGING_EMAIL_FROM`, `lienlac <thongbao@quan1.edu.vn>`).
    pub email_from: String,
    /// Emails a second at most (`MESSAGING_EMAIL_PER_SECOND`; 20).
    pub email_per_second: u32,
    /// SMS through an HTTP provider; off unless `MESSAGING_SMS_URL` is set.
    pub sms: Option<SmsSettings>,
    /// Zalo ZNS; off unless `MESSAGING_ZALO_APP_ID` is set.
    pub zalo: Option<ZaloSettings>,
}

/// What one SMS part costs unless `MESSAGING_SMS_PRICE_VND` says otherwise.
pub const DEFAULT_SMS_PRICE_VND: i32 = 800;

/// An SMS provider in eSMS.vn's request shape (delivery/sms.rs).
#[derive(Debug, Clone)]
pub struct SmsSettings {
    /// `MESSAGING_SMS_URL`: the send endpoint,
    /// `https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/`.
    pub url: String,
    /// `MESSAGING_SMS_API_KEY`, `MESSAGING_SMS_SECRET_KEY`.
    pub api_key: String,
    pub secret_key: SecretString,
    /// `MESSAGING_SMS_BRANDNAME`: the registered sender name.
    pub brandname: String,
    /// `MESSAGING_SMS_PRICE_VND`: the price of one part (70 Unicode characters); 800.
    pub price_vnd: i32,
    /// `MESSAGING_SMS_PER_SECOND`; 30.
    pub per_second: u32,
}

/// A Zalo Official Account sending ZNS template messages (delivery/zalo.rs).
#[derive(Debug, Clone)]
pub struct ZaloSettings {
    /// `MESSAGING_ZALO_URL`: `https://business.openapi.zalo.me` by default.
    pub url: String,
    /// `MESSAGING_ZALO_OAUTH_URL`: `https://oauth.zaloapp.com` by default.
    pub oauth_url: String,
    /// `MESSAGING_ZALO_APP_ID`, `MESSAGING_ZALO_SECRET_KEY`: the Zalo app's.
    pub app_id: String,
    pub secret_key: SecretString,
    /// `MESSAGING_ZALO_REFRESH_TOKEN`: the OA's refresh token to start from; the
    /// service keeps the ones Zalo gives after.
    pub refresh_token: SecretString,
    /// `MESSAGING_ZALO_TEMPLATE_ID`: the approved absence-notice template, with the
    /// parameters `student_name`, `class_name`, `date` and `content`.
    pub template_id: String,
    /// `MESSAGING_ZALO_PRICE_VND`: the price of one message; 300.
    pub price_vnd: i32,
    /// `MESSAGING_ZALO_PER_SECOND`; 50.
    pub per_second: u32,
}

/// `name`, required because `because` is set.
fn required<F: Fn(&str) -> Option<String>>(
    env: &Env<'_, F>,
    name: &str,
    because: &str,
) -> Result<String, ConfigError> {
    env.text(name).ok_or_else(|| ConfigError {
        name: name.to_owned(),
        reason: format!("must be set when {because} is"),
    })
}

impl SmsSettings {
    fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<'_, F>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(url) = env.text("MESSAGING_SMS_URL") else {
            return Ok(None);
        };
        let because = "MESSAGING_SMS_URL";
        let mut settings = Self {
            url,
            api_key: required(env, "MESSAGING_SMS_API_KEY", because)?,
            secret_key: required(env, "MESSAGING_SMS_SECRET_KEY", because)?.into(),
            brandname: required(env, "MESSAGING_SMS_BRANDNAME", because)?,
            price_vnd: DEFAULT_SMS_PRICE_VND,
            per_second: 30,
        };
        env.parse("MESSAGING_SMS_PRICE_VND", &mut settings.price_vnd)?;
        env.parse("MESSAGING_SMS_PER_SECOND", &mut settings.per_second)?;
        Ok(Some(settings))
    }
}

impl ZaloSettings {
    fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<'_, F>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(app_id) = env.text("MESSAGING_ZALO_APP_ID") else {
            return Ok(None);
        };
        let because = "MESSAGING_ZALO_APP_ID";
        let mut settings = Self {
            url: "https://business.openapi.zalo.me".to_owned(),
            oauth_url: "https://oauth.zaloapp.com".to_owned(),
            app_id,
            secret_key: required(env, "MESSAGING_ZALO_SECRET_KEY", because)?.into(),
            refresh_token: required(env, "MESSAGING_ZALO_REFRESH_TOKEN", because)?.into(),
            template_id: required(env, "MESSAGING_ZALO_TEMPLATE_ID", because)?,
            price_vnd: 300,
            per_second: 50,
        };
        if let Some(url) = env.text("MESSAGING_ZALO_URL") {
            settings.url = url.trim_end_matches('/').to_owned();
        }
        if let Some(url) = env.text("MESSAGING_ZALO_OAUTH_URL") {
            settings.oauth_url = url.trim_end_matches('/').to_owned();
        }
        env.parse("MESSAGING_ZALO_PRICE_VND", &mut settings.price_vnd)?;
        env.parse("MESSAGING_ZALO_PER_SECOND", &mut settings.per_second)?;
        Ok(Some(settings))
    }
}

impl DeliverySettings {
    fn defaults() -> Self {
        Self {
            service_secret: None,
            every: Duration::from_secs(1),
            push_contact: "mailto:lienlac@localhost".to_owned(),
            push_services: crate::delivery::devices::PushServices::browsers().0,
            push_per_second: 200,
            smtp_url: None,
            email_from: "lienlac <lienlac@localhost>".to_owned(),
            email_per_second: 20,
            sms: None,
            zalo: None,
        }
    }

    fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<'_, F>) -> Result<Self, ConfigError> {
        let mut settings = Self::defaults();
        settings.service_secret = env.text("MESSAGING_SERVICE_SECRET").map(SecretString::from);
        env.duration("MESSAGING_DELIVERY_EVERY", &mut settings.every)?;
        if let Some(contact) = env.text("MESSAGING_PUSH_CONTACT") {
            if !(contact.starts_with("mailto:") || contact.starts_with("https://")) {
                return Err(ConfigError {
                    name: "MESSAGING_PUSH_CONTACT".to_owned(),
                    reason: format!("{contact:?} is not a mailto: or https: URL"),
                });
            }
            settings.push_contact = contact;
        }
        if let Some(list) = env.text("MESSAGING_PUSH_SERVICES") {
            settings.push_services = list
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                .filter(|origin| !origin.is_empty())
                .collect();
        }
        env.parse("MESSAGING_PUSH_PER_SECOND", &mut settings.push_per_second)?;
        settings.smtp_url = env.text("MESSAGING_SMTP_URL");
        if let Some(from) = env.text("MESSAGING_EMAIL_FROM") {
            settings.email_from = from;
        }
        env.parse("MESSAGING_EMAIL_PER_SECOND", &mut settings.email_per_second)?;
        settings.sms = SmsSettings::from_env(env)?;
        settings.zalo = ZaloSettings::from_env(env)?;
        Ok(settings)
    }
}

impl Settings {
    pub fn defaults(kernel: KernelConfig) -> Self {
        Self {
            kernel,
            receipts_every: Duration::from_secs(30),
            attachments_dir: ".local/attachments".into(),
            s3: None,
            link_lifetime: Duration::from_secs(300),
            purge_every: Duration::from_secs(60),
            public_url: String::new(),
            attachment_max_bytes: 20 * 1024 * 1024,
            delivery: DeliverySettings::defaults(),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let mut settings = Self::defaults(KernelConfig::from_lookup(ServiceId::MESSAGING, lookup)?);
        let env = Env(&lookup);
        env.duration("MESSAGING_RECEIPTS_EVERY", &mut settings.receipts_every)?;
        if let Some(dir) = env.text("MESSAGING_ATTACHMENTS_DIR") {
            settings.attachments_dir = dir.into();
        }
        env.parse(
            "MESSAGING_ATTACHMENT_MAX_BYTES",
            &mut settings.attachment_max_bytes,
        )?;
        settings.s3 = S3Settings::from_env(&env)?;
        settings.delivery = DeliverySettings::from_env(&env)?;
        env.duration("MESSAGING_LINK_LIFETIME", &mut settings.link_lifetime)?;
        env.duration("MESSAGING_PURGE_EVERY", &mut settings.purge_every)?;
        if let Some(url) = env.text("MESSAGING_PUBLIC_URL") {
            settings.public_url = url.trim_end_matches('/').to_owned();
        }
        Ok(settings)
    }
}

/// An S3-compatible bucket (AWS S3, MinIO, Garage, Ceph, a cloud's object storage).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `MESSAGING_S3_ENDPOINT`: the store's URL; AWS's when unset. `http://` is
    /// accepted for a store on the same private network.
    pub endpoint: Option<String>,
    /// `MESSAGING_S3_BUCKET`: an existing bucket.
    pub bucket: String,
    /// `MESSAGING_S3_REGION`; `us-east-1` by default.
    pub region: String,
    /// `MESSAGING_S3_ACCESS_KEY_ID` and `MESSAGING_S3_SECRET_ACCESS_KEY`.
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

impl S3Settings {
    fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<'_, F>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(bucket) = env.text("MESSAGING_S3_BUCKET") else {
            return Ok(None);
        };
        let required = |name: &str| {
            env.text(name).ok_or_else(|| ConfigError {
                name: name.to_owned(),
                reason: "must be set when MESSAGING_S3_BUCKET is".to_owned(),
            })
        };
        let endpoint = env.text("MESSAGING_S3_ENDPOINT");
        if let Some(url) = &endpoint
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError {
                name: "MESSAGING_S3_ENDPOINT".to_owned(),
                reason: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        Ok(Some(Self {
            endpoint,
            bucket,
            region: env
                .text("MESSAGING_S3_REGION")
                .unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id: required("MESSAGING_S3_ACCESS_KEY_ID")?,
            secret_access_key: required("MESSAGING_S3_SECRET_ACCESS_KEY")?.into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_of(vars: &[(&str, &str)]) -> Result<Option<S3Settings>, String> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        S3Settings::from_env(&Env(&lookup)).map_err(|error| error.name)
    }

    #[test]
    fn given_the_s3_variables_then_a_bucket_is_configured_or_the_missing_one_named() {
        let keys = [
            ("MESSAGING_S3_BUCKET", "lienlac"),
            ("MESSAGING_S3_ACCESS_KEY_ID", "key"),
            ("MESSAGING_S3_SECRET_ACCESS_KEY", "secret"),
        ];
        assert!(s3_of(&[]).unwrap().is_none(), "no bucket: the directory");
        let s3 = s3_of(&keys).unwrap().unwrap();
        assert_eq!((s3.region.as_str(), s3.endpoint), ("us-east-1", None));
        assert_eq!(
            s3_of(&keys[..2]).unwrap_err(),
            "MESSAGING_S3_SECRET_ACCESS_KEY"
        );
        let mut wrong = keys.to_vec();
        wrong.push(("MESSAGING_S3_ENDPOINT", "minio:9000"));
        assert_eq!(s3_of(&wrong).unwrap_err(), "MESSAGING_S3_ENDPOINT");
        let mut local = keys.to_vec();
        local.push(("MESSAGING_S3_ENDPOINT", "http://10.0.0.5:9000"));
        assert_eq!(
            s3_of(&local).unwrap().unwrap().endpoint.as_deref(),
            Some("http://10.0.0.5:9000")
        );
    }
}
