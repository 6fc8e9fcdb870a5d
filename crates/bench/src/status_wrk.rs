//! B5's load generator when `wrk` is installed: 32 connections on 2 threads, as `pgbench -S`
//! runs its 32 clients on 2 threads, so that both sides of the ratio pay for a lean C client
//! (the `reqwest` client costs the shared two cores about twice what pgbench's does).

use anyhow::Context;
use std::time::Duration;

/// Status reads measured by one client: requests per second, p50 and p99 in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusReads {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub client: StatusClient,
}

/// Which client made the status reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusClient {
    #[default]
    Reqwest,
    Wrk,
}

impl StatusClient {
    pub fn name(self) -> &'static str {
        match self {
            StatusClient::Reqwest => "reqwest",
            StatusClient::Wrk => "wrk",
        }
    }
}

/// Whether `wrk` can be run.
pub async fn wrk_installed() -> bool {
    tokio::process::Command::new("wrk")
        .arg("--version")
        .output()
        .await
        .is_ok()
}

/// `GET url` with `key` from 32 connections on 2 threads for `seconds`, by `wrk`. Any answer
/// other than 2xx fails the measurement.
pub async fn wrk_reads(url: &str, key: &str, seconds: u64) -> anyhow::Result<StatusReads> {
    let output = tokio::process::Command::new("wrk")
        .args(["-t", "2", "-c", "32", "-d"])
        .arg(format!("{seconds}s"))
        .args(["--latency", "--timeout", "10s", "-H"])
        .arg(format!("Authorization: Bearer {key}"))
        .arg(url)
        .output()
        .await
        .context("running wrk")?;
    let report = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "wrk failed: {report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_report(&report)
}

/// Reads requests per second and the p50 and p99 latencies from a `wrk --latency` report.
fn parse_report(report: &str) -> anyhow::Result<StatusReads> {
    anyhow::ensure!(
        !report.contains("Non-2xx or 3xx responses"),
        "some status reads were refused: {report}"
    );
    let field = |prefix: &str| {
        report
            .lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .with_context(|| format!("no `{prefix}` in the wrk report: {report}"))
    };
    let per_second: f64 = field("Requests/sec:")?.parse()?;
    let p50 = latency(field("50%")?)?;
    let p99 = latency(field("99%")?)?;
    Ok(StatusReads {
        per_second,
        p50_ms: p50.as_secs_f64() * 1000.0,
        p99_ms: p99.as_secs_f64() * 1000.0,
        client: StatusClient::Wrk,
    })
}

/// A wrk latency such as `812.00us`, `4.22ms` or `1.02s`.
fn latency(text: &str) -> anyhow::Result<Duration> {
    let (number, scale) = if let Some(number) = text.strip_suffix("us") {
        (number, 1e-6)
    } else if let Some(number) = text.strip_suffix("ms") {
        (number, 1e-3)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else {
        anyhow::bail!("`{text}` is not a wrk latency")
    };
    let value: f64 = number.parse()?;
    Ok(Duration::from_secs_f64(value * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:8080/v2/demo/identity/bulk_actions/7
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.41ms    1.21ms  21.00ms   80.00%
    Req/Sec     3.41k   201.00     4.00k    70.00%
  Latency Distribution
     50%    4.22ms
     75%    5.01ms
     90%    6.00ms
     99%  812.00us
  68000 requests in 10.00s, 30.00MB read
Requests/sec:   6800.50
Transfer/sec:      3.00MB
";

    #[test]
    fn a_report_gives_the_rate_and_the_percentiles_in_milliseconds() {
        let reads = parse_report(REPORT).expect("a report");
        assert_eq!(reads.per_second, 6800.5);
        assert!((reads.p50_ms - 4.22).abs() < 1e-9);
        assert!((reads.p99_ms - 0.812).abs() < 1e-9);
        assert_eq!(reads.client, StatusClient::Wrk);
    }

    #[test]
    fn refused_reads_or_a_report_without_figures_fail_the_measurement() {
        let refused = REPORT.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 12\nRequests/sec",
        );
        assert!(parse_report(&refused).is_err());
        assert!(parse_report("unable to connect to 127.0.0.1:1").is_err());
        assert!(latency("4.2 parsecs").is_err());
        assert_eq!(
            latency("1.5s").expect("a latency"),
            Duration::from_millis(1500)
        );
    }
}
