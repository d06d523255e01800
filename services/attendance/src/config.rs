//! The attendance service's settings: the kernel's, plus how long a homeroom
//! teacher may correct a mark.

use std::time::Duration;

use kernel::config::{ConfigError, Env, KernelConfig, ServiceId};

#[derive(Debug, Clone)]
pub struct Settings {
    pub kernel: KernelConfig,
    /// How many days back a homeroom teacher may correct a mark; the principal may
    /// correct any open month.
    pub correction_window: Duration,
}

impl Settings {
    pub fn defaults(kernel: KernelConfig) -> Self {
        Self {
            kernel,
            correction_window: Duration::from_secs(7 * 24 * 3600),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let mut settings =
            Self::defaults(KernelConfig::from_lookup(ServiceId::ATTENDANCE, lookup)?);
        Env(&lookup).duration(
            "ATTENDANCE_CORRECTION_WINDOW",
            &mut settings.correction_window,
        )?;
        Ok(settings)
    }
}
