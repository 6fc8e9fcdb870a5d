//! The threads the workers of `userhub-server all` run on: a Tokio runtime of their own whose
//! threads run nicer (lower in CPU priority) than the HTTP threads, with a database pool of its
//! own so that the HTTP side's connections are driven by the HTTP threads. Only the combined
//! mode needs this; a split deployment sets priorities per process.

use tokio::runtime::{Builder, Handle, Runtime};

/// The workers' runtime; stop it with [`WorkerThreads::stop`].
pub struct WorkerThreads {
    runtime: Runtime,
}

impl std::fmt::Debug for WorkerThreads {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WorkerThreads")
    }
}

impl WorkerThreads {
    /// A multi-threaded runtime (one thread per core) whose threads add `nice` to their nice value.
    pub fn start(nice: i32) -> std::io::Result<WorkerThreads> {
        let runtime = Builder::new_multi_thread()
            .thread_name("userhub-worker")
            .enable_all()
            .on_thread_start(move || lower_priority(nice))
            .build()?;
        Ok(WorkerThreads { runtime })
    }

    /// Where the workers' tasks are spawned.
    pub fn handle(&self) -> &Handle {
        self.runtime.handle()
    }

    /// Stops the runtime without waiting for what still runs on it (the caller has awaited the
    /// workers already).
    pub fn stop(self) {
        self.runtime.shutdown_background();
    }
}

/// Makes the calling thread `by` nicer (on Linux the nice value belongs to the thread).
fn lower_priority(by: i32) {
    let current = rustix::process::getpriority_process(None).unwrap_or(0);
    let target = (current + by).min(19);
    if let Err(error) = rustix::process::setpriority_process(None, target) {
        tracing::warn!(%error, "cannot lower the workers' thread priority; they share the HTTP threads' priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_run_nicer_than_the_thread_that_started_them() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let threads = WorkerThreads::start(5).unwrap();
        let inside = threads
            .handle()
            .block_on(async { rustix::process::getpriority_process(None).unwrap() });
        let spawned = threads
            .handle()
            .block_on(
                threads
                    .handle()
                    .spawn(async { rustix::process::getpriority_process(None).unwrap() }),
            )
            .unwrap();
        threads.stop();
        assert_eq!(
            rustix::process::getpriority_process(None).unwrap(),
            before,
            "the caller keeps its priority"
        );
        assert_eq!(
            spawned,
            (before + 5).min(19),
            "the runtime's threads are nicer"
        );
        assert_eq!(inside, before, "block_on runs on the caller's thread");
    }
}
