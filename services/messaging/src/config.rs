//! The messaging service's settings: the kernel's (docs/configuration.md).

use kernel::config::{ConfigError, KernelConfig, ServiceId};

#[derive(Debug, Clone)]
pub struct Settings {
    pub kernel: KernelConfig,
}

impl Settings {
    pub fn defaults(kernel: KernelConfig) -> Self {
        Self { kernel }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        Ok(Self::defaults(KernelConfig::from_lookup(
            ServiceId::MESSAGING,
            lookup,
        )?))
    }
}
