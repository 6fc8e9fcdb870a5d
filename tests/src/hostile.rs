//! Aids for hostile-client tests: a `userhub-server` process on its own port (so its memory
//! can be read), gzip bodies made by the system's `gzip`, and raw TCP exchanges for requests
//! no HTTP client would send.

use crate::{ServerProcess, free_port};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use userhub_server::Settings;

/// A server process and where it listens.
pub struct RunningServer {
    pub process: ServerProcess,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// `http://127.0.0.1:port`.
    pub base: String,
}

impl RunningServer {
    /// Starts `binary args...` with `settings` and `extra_env` on a free port and waits until it
    /// answers `probe` (e.g. `/readyz`) with 200.
    pub async fn start(
        binary: &str,
        settings: &Settings,
        args: &[&str],
        extra_env: &[(&str, &str)],
        probe: &str,
    ) -> RunningServer {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        Self::start_listening(binary, settings, args, extra_env, probe, &listen).await
    }

    /// [`Self::start`] on `listen` (e.g. `[::]:port`, a dual-stack listener); requests go to
    /// 127.0.0.1 on its port.
    pub async fn start_listening(
        binary: &str,
        settings: &Settings,
        args: &[&str],
        extra_env: &[(&str, &str)],
        probe: &str,
        listen: &str,
    ) -> RunningServer {
        let port = listen.rsplit(':').next().expect("a port");
        let addr = format!("127.0.0.1:{port}");
        let mut env: Vec<(&str, &str)> = vec![("USERHUB__HTTP__ADDR", listen)];
        env.extend_from_slice(extra_env);
        let mut process = ServerProcess::spawn(binary, settings, args, &env);
        let base = format!("http://{addr}");
        let client = reqwest::Client::new();
        for _ in 0..600 {
            let ready = client.get(format!("{base}{probe}")).send().await;
            if ready.is_ok_and(|response| response.status() == 200) {
                return RunningServer {
                    process,
                    addr,
                    base,
                };
            }
            assert!(process.is_running(), "the server exited while starting");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not answer {probe}");
    }

    /// Peak resident memory so far (since the last [`Self::reset_peak`]), in KiB.
    pub fn peak_kib(&self) -> u64 {
        crate::peak_rss_kib(self.process.pid).expect("the server runs")
    }

    /// Resident memory now, in KiB.
    pub fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.pid))
            .expect("the server runs");
        status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
            .expect("VmRSS is shown")
    }

    /// Sets the peak back to the current resident memory (`/proc/<pid>/clear_refs`), so that
    /// one request's peak can be read on its own.
    pub fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.process.pid), "5")
            .expect("the peak can be reset");
    }
}

/// `data` compressed by the system's `gzip -1` (fast even for hundreds of megabytes).
pub fn gzip(data: Vec<u8>) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-1")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip runs");
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let output = child.wait_with_output().expect("gzip finishes");
    writer.join().expect("the writer ends").expect("gzip reads");
    assert!(output.status.success());
    output.stdout
}

/// A connection to `addr` from the loopback address `source` (127.0.0.x), so that a test can
/// play many clients.
pub async fn connect_from(source: &str, addr: &str) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().expect("an address"))?;
    socket.connect(addr.parse().expect("an address")).await
}

/// An HTTP client whose connections come from the loopback address `source`.
pub fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(source.parse().expect("an address")))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}

/// Sends `request` as is and reads until the server closes the connection or `within` passes;
/// returns what was read and whether the connection was closed.
pub async fn raw_exchange(addr: &str, request: &[u8], within: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.expect("the server listens");
    stream
        .write_all(request)
        .await
        .expect("the request is sent");
    read_until_closed(&mut stream, within).await
}

/// Reads from `stream` until it is closed or `within` passes.
pub async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&answer).into(), true),
            Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
            Err(_) => return (String::from_utf8_lossy(&answer).into(), false),
        }
    }
}

/// An HTTP/1.1 request sent by [`send_reading_early`].
pub struct EarlyRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: Vec<u8>,
}

/// Sends `request` with `Connection: close` while reading the answer, as a client must that
/// reads an answer given before its body is sent (hyper's client may report the broken pipe of
/// a refused upload instead); returns the status and the answer's body (de-chunked).
pub async fn send_reading_early(
    addr: &str,
    request: EarlyRequest<'_>,
    within: Duration,
) -> (u16, String) {
    let stream = TcpStream::connect(addr).await.expect("the server listens");
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.method,
        request.path,
        request.body.len()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let body = request.body;
    let sending = tokio::spawn(async move {
        // The server may close before the body is sent: that is the case this function serves.
        if writer.write_all(head.as_bytes()).await.is_ok() {
            let _ = writer.write_all(&body).await;
        }
        // Dropping the writer would half-close the connection, which the server takes as the
        // client going away: hold it until the answer is read.
        std::future::pending::<()>().await;
        drop(writer);
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(within, reader.read_to_end(&mut answer)).await;
    sending.abort();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

/// The data of a chunked HTTP body (as much of it as arrived).
fn dechunk(mut chunked: &str) -> String {
    let mut data = String::new();
    while let Some((size, rest)) = chunked.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let (Some(part), Some(after)) = (rest.get(..size), rest.get(size..)) else {
            break;
        };
        if size == 0 {
            break;
        }
        data.push_str(part);
        chunked = after.trim_start_matches("\r\n");
    }
    data
}
