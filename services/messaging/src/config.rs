//! The messaging service's settings: the kernel's (docs/configuration.md).

use std::time::Duration;

use kernel::config::{ConfigError, Env, KernelConfig, ServiceId};

#[derive(Debug, Clone)]
pub struct Settings {
    pub kernel: KernelConfig,
    /// How often announcements' receipts are published (`ReceiptsUpdated`),
    /// `MESSAGING_RECEIPTS_EVERY` ("30s", "2m"); 30 s by default.
    pub receipts_every: Duration,
}

impl Settings {
    pub fn defaults(kernel: KernelConfig) -> Self {
        Self {
            kernel,
            receipts_every: Duration::from_secs(30),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let mut settings = Self::defaults(KernelConfig::from_lookup(ServiceId::MESSAGING, lookup)?);
        Env(&lookup).duration("MESSAGING_RECEIPTS_EVERY", &mut settings.receipts_every)?;
        Ok(settings)
    }
}
