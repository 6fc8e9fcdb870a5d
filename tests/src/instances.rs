//! Service instances of a test's own, beside the machine's shared RabbitMQ and PostgreSQL: a
//! RabbitMQ node, a PostgreSQL server and a streaming replica of it, started by the project's
//! scripts, removed when dropped (even when the test fails). A test that stops, pauses or
//! reconfigures a service does it to one of these, never to the shared ones.

use std::path::PathBuf;
use std::process::Command;

/// Runs one of the project's scripts with `environment`; its standard output.
fn script(name: &str, environment: &[(String, String)], args: &[&str]) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(name);
    let output = Command::new("bash")
        .arg(path)
        .args(args)
        .envs(environment.iter().map(|(key, value)| (key, value)))
        .output()
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert!(
        output.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A running instance: its script, the environment that names it, and its URL.
pub struct OwnInstance {
    script: &'static str,
    environment: Vec<(String, String)>,
    /// The URL to connect to (for PostgreSQL, without a database name).
    pub url: String,
    stop: &'static [&'static str],
    start: &'static [&'static str],
}

impl OwnInstance {
    /// A single RabbitMQ node listening on `port` (its distribution port is `port` + 20 001).
    pub fn rabbitmq(port: u16) -> OwnInstance {
        OwnInstance::start(
            "rabbit-cluster.sh",
            vec![
                ("USERHUB_CLUSTER_PORT".to_owned(), port.to_string()),
                ("USERHUB_CLUSTER_NODES".to_owned(), "1".to_owned()),
            ],
            &["stop-node", "1"],
            &["start-node", "1"],
        )
    }

    /// A PostgreSQL server listening on `port`, with its own data directory.
    pub fn postgres(port: u16) -> OwnInstance {
        OwnInstance::start(
            "postgres-instance.sh",
            vec![("USERHUB_POSTGRES_PORT".to_owned(), port.to_string())],
            &["stop-server"],
            &["start-server"],
        )
    }

    /// A streaming replica of `primary` (a PostgreSQL instance) listening on `port`.
    pub fn replica_of(primary: &OwnInstance, port: u16) -> OwnInstance {
        let primary_port = primary
            .url
            .rsplit(':')
            .next()
            .expect("the primary's URL ends with its port");
        OwnInstance::start(
            "replica.sh",
            vec![
                ("USERHUB_REPLICA_PORT".to_owned(), port.to_string()),
                (
                    "USERHUB_REPLICA_PRIMARY_PORT".to_owned(),
                    primary_port.to_owned(),
                ),
            ],
            &[],
            &[],
        )
    }

    fn start(
        script_name: &'static str,
        environment: Vec<(String, String)>,
        stop: &'static [&'static str],
        start: &'static [&'static str],
    ) -> OwnInstance {
        let url = script(script_name, &environment, &["start"]);
        OwnInstance {
            script: script_name,
            environment,
            url,
            stop,
            start,
        }
    }

    /// Runs `rabbitmqctl args` on this RabbitMQ node; its output.
    pub fn rabbitmqctl(&self, args: &[&str]) -> String {
        assert_eq!(self.script, "rabbit-cluster.sh", "not a RabbitMQ node");
        let mut command = vec!["ctl", "1"];
        command.extend_from_slice(args);
        script(self.script, &self.environment, &command)
    }

    /// A fresh database name's URL on this PostgreSQL instance.
    pub fn database_url(&self) -> String {
        format!("{}/uh_test_{}", self.url, crate::random_hex(6))
    }

    /// Stops the service, keeping its data; [`Stopped::start`] (or dropping it) starts it again.
    pub fn stop(&self) -> Stopped<'_> {
        assert!(!self.stop.is_empty(), "{} cannot be stopped", self.script);
        script(self.script, &self.environment, self.stop);
        Stopped { instance: self }
    }
}

impl Drop for OwnInstance {
    fn drop(&mut self) {
        script(self.script, &self.environment, &["stop"]);
    }
}

/// A stopped instance; started again when dropped, even if the test fails.
pub struct Stopped<'a> {
    instance: &'a OwnInstance,
}

impl Stopped<'_> {
    /// Starts the instance again.
    pub fn start(self) {}
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        let instance = self.instance;
        script(instance.script, &instance.environment, instance.start);
    }
}
