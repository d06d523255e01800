//! The messaging service's settings: the kernel's (docs/configuration.md).

use std::time::Duration;

use kernel::config::{ConfigError, Env, KernelConfig, ServiceId};

#[derive(Debug, Clone)]
pub struct Settings {
    pub kernel: KernelConfig,
    /// Where attachments are kept (`MESSAGING_ATTACHMENTS_DIR`; `.local/attachments`
    /// under the working directory by default).
    pub attachments_dir: std::path::PathBuf,
    /// The largest attachment, in bytes (`MESSAGING_ATTACHMENT_MAX_BYTES`; 20 MB).
    pub attachment_max_bytes: usize,
    /// How often announcements' receipts are published (`ReceiptsUpdated`),
    /// `MESSAGING_RECEIPTS_EVERY` ("30s", "2m"); 30 s by default.
    pub receipts_every: Duration,
}

impl Settings {
    pub fn defaults(kernel: KernelConfig) -> Self {
        Self {
            kernel,
            receipts_every: Duration::from_secs(30),
            attachments_dir: ".local/attachments".into(),
            attachment_max_bytes: 20 * 1024 * 1024,
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
        Ok(settings)
    }
}
