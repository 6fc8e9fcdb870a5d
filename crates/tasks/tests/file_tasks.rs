//! Tasks from a file, accepted in batches: workers apply the first chunks while the rest of the
//! file is stored; an acceptance that fails after that keeps the applied records and fails the
//! ones never queued, and one that fails before withdraws the task.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod probe;

use probe::{ACTION, Probe, install, written};
use std::time::Duration;
use userhub_domain::{ErrorCode, TaskId, TaskOptions, TaskState};
use userhub_tasks::TaskError;
use userhub_tasks::intake::{Created, StreamedTask, Submitted};
use userhub_tasks::testing::{Hold, OutcomesExt, Protocol, ProtocolOptions, TestFile};

const RECORDS: usize = 30;

/// Chunks of 3 records, each stored and published as soon as it is whole.
async fn protocol() -> Protocol {
    let protocol = Protocol::start_with(ProtocolOptions {
        batch_bytes: 1,
        ..ProtocolOptions::default()
    })
    .await;
    install(&protocol).await;
    protocol
}

fn file(hold: &Hold) -> TestFile {
    let lines = (0..RECORDS)
        .map(|n| format!("{{\"key\":\"k{n}\"}}\n"))
        .collect();
    TestFile::new(lines, Some(hold.clone()))
}

/// Submits `source` as one task while `observe` looks at it once its storing reading is held
/// (`observe` gets the task's id and must release the hold).
async fn submit_held<T>(
    protocol: &Protocol,
    source: TestFile,
    hold: &Hold,
    observe: impl AsyncFnOnce(TaskId) -> T,
) -> (Result<Submitted, TaskError>, T) {
    let task = StreamedTask {
        action: ACTION,
        options: TaskOptions::default(),
        source_id: "test-file".to_owned(),
        source,
    };
    let (recorded, on_record) = tokio::sync::oneshot::channel::<TaskId>();
    let submitting =
        protocol
            .intake
            .submit_stream(&protocol.submitter, task, None, move |created: Created| {
                let _ = recorded.send(created.task_id);
            });
    let observing = async {
        hold.reached.notified().await;
        observe(on_record.await.expect("the task row exists")).await
    };
    tokio::join!(submitting, observing)
}

/// How many records the probe wrote for `task_id`, once at least `least` (or after 20 s).
async fn written_at_least(protocol: &Protocol, task_id: TaskId, least: usize) -> usize {
    for _ in 0..200 {
        let count = written(protocol, task_id).await.len();
        if count >= least {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    written(protocol, task_id).await.len()
}

async fn state_of(protocol: &Protocol, task_id: TaskId) -> Option<String> {
    protocol
        .query_text(&format!("SELECT state FROM tasks WHERE id = {task_id}"))
        .await
}

#[tokio::test]
async fn workers_apply_the_first_chunks_while_the_rest_of_the_file_is_stored() {
    let mut protocol = protocol().await;
    protocol.run(Probe::default());
    // Held after 10 records: chunks 0 to 2 (records 0 to 8) are whole and queued.
    let hold = Hold::after(9, false);
    let (submitted, (task_id, applied, state)) =
        submit_held(&protocol, file(&hold), &hold, async |task_id| {
            let applied = written_at_least(&protocol, task_id, 9).await;
            let state = state_of(&protocol, task_id).await;
            hold.release.notify_one();
            (task_id, applied, state)
        })
        .await;
    assert_eq!(
        applied, 9,
        "the queued chunks are applied while the file is held"
    );
    assert_eq!(state.as_deref(), Some("processing"));
    let submitted = submitted.expect("the task is accepted");
    assert_eq!(submitted.created.task_id, task_id);
    assert_ne!(submitted.created.state, TaskState::Created);
    let finished = protocol.finished(task_id).await;
    assert!(finished.summary().iter().all(Result::is_ok));
    let mut keys: Vec<String> = written(&protocol, task_id)
        .await
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), RECORDS, "every record applied once");
}

#[tokio::test]
async fn an_acceptance_failing_after_chunks_were_applied_fails_only_the_records_never_queued() {
    let mut protocol = protocol().await;
    protocol.run(Probe::default());
    let hold = Hold::after(9, true);
    let (submitted, task_id) = submit_held(&protocol, file(&hold), &hold, async |task_id| {
        written_at_least(&protocol, task_id, 9).await;
        hold.release.notify_one();
        task_id
    })
    .await;
    let submitted = submitted.expect("the task stands, with the records it could not queue failed");
    assert_eq!(submitted.created.task_id, task_id);
    let finished = protocol.finished(task_id).await;
    let summary = finished.summary();
    assert!(summary[..9].iter().all(Result::is_ok), "{summary:?}");
    assert!(
        summary[9..]
            .iter()
            .all(|outcome| outcome == &Err(ErrorCode::ProcessingFailed)),
        "{summary:?}"
    );
    assert_eq!(written(&protocol, task_id).await.len(), 9);
    let failure = protocol
        .query_text(&format!(
            "SELECT failure_reason FROM tasks WHERE id = {task_id}"
        ))
        .await
        .expect("the task says why records failed");
    assert!(failure.contains("acceptance failed"), "{failure}");
}

#[tokio::test]
async fn an_acceptance_failing_before_any_chunk_was_applied_withdraws_the_task() {
    let mut protocol = protocol().await;
    let hold = Hold::after(9, true);
    let (submitted, task_id) = submit_held(&protocol, file(&hold), &hold, async |task_id| {
        hold.release.notify_one();
        task_id
    })
    .await;
    assert!(
        matches!(submitted, Err(TaskError::SourceChanged)),
        "{submitted:?}"
    );
    assert_eq!(
        state_of(&protocol, task_id).await,
        None,
        "the task is withdrawn"
    );
    assert_eq!(
        protocol.transport.queued(ACTION),
        3,
        "its first chunks were queued"
    );
    protocol.run(Probe::default());
    for _ in 0..200 {
        if protocol.transport.queued(ACTION) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    protocol.stop_workers().await;
    assert_eq!(protocol.transport.queued(ACTION), 0);
    assert!(
        written(&protocol, task_id).await.is_empty(),
        "nothing applied"
    );
}
