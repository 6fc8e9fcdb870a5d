//! What the CLI tests share: running `userhub` against a test server, inputs and outputs.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr};
use userhub_tests::{TestApp, random_hex};

/// `userhub` configured through the environment for the app's domain; the user's own config
/// file is never read.
pub fn userhub(app: &TestApp, work: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_userhub"));
    command
        .current_dir(work)
        .env("USERHUB_URL", &app.base_url)
        .env("USERHUB_DOMAIN", &app.domain)
        .env("USERHUB_API_KEY", &app.api_key)
        .env("USERHUB_CLI_CONFIG", work.join("no-config.toml"))
        .env_remove("USERHUB_PROFILE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// `userhub import --action create_core_profiles --no-upload <input>`: the import in parts of
/// the domain's record limit, not as one upload.
pub fn split_import(app: &TestApp, work: &Path, input: &str) -> tokio::process::Command {
    let mut command = userhub(app, work);
    command.args([
        "import",
        "--action",
        "create_core_profiles",
        "--no-upload",
        input,
    ]);
    command
}

/// Starts `userhub import --action create_core_profiles --concurrency 1 --no-upload <input>`
/// (in parts) with its progress lines (stderr) readable line by line.
pub fn spawn_serial_import(
    app: &TestApp,
    work: &Path,
    input: &str,
) -> (Child, Lines<BufReader<ChildStderr>>) {
    let mut command = userhub(app, work);
    command
        .args([
            "import",
            "--action",
            "create_core_profiles",
            "--concurrency",
            "1",
            "--no-upload",
        ])
        .arg(input)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = command.spawn().unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, lines)
}

/// The first progress line `wanted` accepts, read within a minute; `None` if the run ended first.
pub async fn first_line_where(
    lines: &mut Lines<BufReader<ChildStderr>>,
    wanted: impl Fn(&str) -> bool,
) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if wanted(&line) {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("a progress line within a minute")
}

pub async fn run(mut command: tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .expect("userhub finishes")
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("userhub-cli-test-{}", random_hex(6)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn read_ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// 2 500 records over 2 503 lines: a blank line after record 6, record 1 200 is not JSON and
/// record 2 100 has no identities.
pub fn write_input(path: &Path, prefix: &str) {
    let mut lines = String::new();
    for index in 0..2500 {
        if index == 7 {
            lines.push('\n');
        }
        let line = match index {
            1200 => "{not json".to_owned(),
            2100 => json!({"identities": [], "last_city": "Pune"}).to_string(),
            _ => {
                json!({"identities": [{"uid": format!("{prefix}-{index}")}], "age": 30}).to_string()
            }
        };
        lines.push_str(&line);
        lines.push('\n');
    }
    std::fs::write(path, lines).unwrap();
}

pub async fn profile_count(app: &TestApp) -> i64 {
    app.query_json("SELECT count(*) AS n FROM core_profiles")
        .await[0]["n"]
        .as_i64()
        .unwrap()
}
