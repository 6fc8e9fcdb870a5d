//! Services as real OS processes, for tests that kill, terminate and restart them.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use userhub_server::Settings;

/// A `userhub-server` child process; killed when dropped.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub pid: u32,
}

impl ServerProcess {
    /// Starts `binary args...` with the environment of `settings` plus `extra_env`.
    pub fn spawn(
        binary: &str,
        settings: &Settings,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> ServerProcess {
        let child = tokio::process::Command::new(binary)
            .args(args)
            .envs(crate::settings_env(settings))
            .envs(extra_env.iter().map(|(key, value)| (*key, *value)))
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the userhub-server binary starts");
        let pid = child.id().expect("a running child has a pid");
        ServerProcess { child, pid }
    }

    /// A worker of one task type.
    pub fn worker(
        binary: &str,
        settings: &Settings,
        action: &str,
        extra_env: &[(&str, &str)],
    ) -> ServerProcess {
        Self::spawn(binary, settings, &["worker", action], extra_env)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.start_kill();
    }

    /// SIGTERM, as a rolling deploy sends.
    pub fn terminate(&self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
    }

    /// Waits for the process to exit (panics after `timeout`).
    pub async fn wait(&mut self, timeout: Duration) -> ExitStatus {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .expect("the process exits in time")
            .expect("the exit status can be read")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}
