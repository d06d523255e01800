//! The `lienlac` binary as a person runs it: its own config directory, the
//! services' addresses in the environment, the password as `LIENLAC_PASSWORD`.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::Output;

pub struct Terminal {
    pub config_home: PathBuf,
    pub identity_url: String,
    pub attendance_url: String,
    pub messaging_url: String,
    pub reporting_url: String,
    pub sync_url: String,
    /// `LIENLAC_NATS_URL`, `_USER` and `_PASSWORD`, for commands that read NATS.
    pub nats: Vec<(&'static str, String)>,
}

impl Terminal {
    /// A terminal for `who`, in the test's own temporary directory.
    pub fn new(namespace: &str, who: &str, identity: std::net::SocketAddr) -> Self {
        Self {
            config_home: std::env::temp_dir().join(format!("lienlac-cli-{namespace}-{who}")),
            identity_url: format!("http://{identity}"),
            attendance_url: String::new(),
            messaging_url: String::new(),
            reporting_url: String::new(),
            sync_url: String::new(),
            nats: Vec::new(),
        }
    }

    pub fn with_nats(mut self, nats: Vec<(&'static str, String)>) -> Self {
        self.nats = nats;
        self
    }

    pub fn with_attendance(mut self, attendance: std::net::SocketAddr) -> Self {
        self.attendance_url = format!("http://{attendance}");
        self
    }

    pub fn with_messaging(mut self, messaging: std::net::SocketAddr) -> Self {
        self.messaging_url = format!("http://{messaging}");
        self
    }

    pub fn with_reporting(mut self, reporting: std::net::SocketAddr) -> Self {
        self.reporting_url = format!("http://{reporting}");
        self
    }

    pub fn with_sync(mut self, sync: std::net::SocketAddr) -> Self {
        self.sync_url = format!("http://{sync}");
        self
    }

    pub async fn run(&self, args: &[&str], password: Option<&str>) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lienlac"));
        command
            .args(args)
            .env("XDG_CONFIG_HOME", &self.config_home)
            .env("LIENLAC_IDENTITY_URL", &self.identity_url)
            .env("LIENLAC_ATTENDANCE_URL", &self.attendance_url)
            .env("LIENLAC_MESSAGING_URL", &self.messaging_url)
            .env("LIENLAC_REPORTING_URL", &self.reporting_url)
            .env("LIENLAC_SYNC_URL", &self.sync_url)
            .envs(self.nats.iter().map(|(name, value)| (*name, value)))
            .env_remove("LIENLAC_PASSWORD")
            .stdin(std::process::Stdio::null());
        if let Some(password) = password {
            command.env("LIENLAC_PASSWORD", password);
        }
        command.output().await.unwrap()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.config_home);
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The absence the seed suggests recording (`--absent <code>:excused`, the demo
/// guardian's child), as the signed-in homeroom teacher of 1A1 records it.
pub async fn record_suggested_absence(teacher: &Terminal, seed_stdout: &[u8]) {
    let absent = text(seed_stdout)
        .split_whitespace()
        .skip_while(|word| *word != "--absent")
        .nth(1)
        .expect("the seed prints a roll call to try")
        .to_owned();
    let submitted = teacher
        .run(
            &[
                "attendance",
                "submit",
                "--class",
                "1A1",
                "--absent",
                &absent,
            ],
            None,
        )
        .await;
    assert!(submitted.status.success(), "{}", text(&submitted.stderr));
}
