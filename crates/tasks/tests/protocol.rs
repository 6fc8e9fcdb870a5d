//! The task protocol end to end with PostgreSQL and the in-memory transport (no broker): every
//! record applied once, bad records failing alone, dry runs, order, cancel, retry, revert,
//! idempotency, poison chunks and foreign schemas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod probe;

use probe::{ACTION, Probe, install, written};
use serde_json::json;
use userhub_domain::{ErrorCode, TaskOptions, TaskOutcome, TaskState};
use userhub_tasks::TaskError;
use userhub_tasks::control::ControlRefusal;
use userhub_tasks::testing::{OutcomesExt, Protocol, ProtocolOptions};
use userhub_tasks::transport::{ChunkTransport, MessageHeaders, Outgoing, Route};

async fn protocol() -> Protocol {
    let protocol = Protocol::start().await;
    install(&protocol).await;
    protocol
}

fn keys(count: usize) -> String {
    (0..count)
        .map(|n| format!("{{\"key\":\"k{n}\"}}\n"))
        .collect()
}

#[tokio::test]
async fn every_record_is_applied_once_even_when_every_chunk_arrives_twice() {
    let mut protocol = protocol().await;
    let task_id = protocol
        .accepted(ACTION, TaskOptions::default(), &keys(10))
        .await;
    let chunks = protocol.transport.take_queued(ACTION);
    assert_eq!(chunks.len(), 4, "10 records in chunks of 3");
    let stored = protocol
        .query_text("SELECT count(*)::text FROM chunk_bodies")
        .await;
    assert_eq!(
        stored.as_deref(),
        Some("4"),
        "the records wait in the database"
    );
    assert!(
        chunks.iter().all(|chunk| chunk.body.len() < 400),
        "the messages are claim checks"
    );
    protocol
        .transport
        .put_back(ACTION, chunks.iter().chain(&chunks).cloned());
    protocol.run(Probe::default());
    let finished = protocol.finished(task_id).await;
    assert_eq!(finished.task.succeeded, 10);
    let mut indexes: Vec<i32> = written(&protocol, task_id)
        .await
        .into_iter()
        .map(|(index, _)| index)
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..10).collect::<Vec<_>>());
    let summary = finished.summary();
    assert_eq!(summary[7], Ok(json!({"index": 7, "line": 8, "key": "k7"})));
    let stored = protocol
        .query_text("SELECT count(*)::text FROM chunk_bodies")
        .await;
    assert_eq!(
        stored.as_deref(),
        Some("0"),
        "applied chunks take their records"
    );
}

#[tokio::test]
async fn a_bad_record_fails_alone_and_outcomes_keep_input_order() {
    let mut protocol = protocol().await;
    protocol.run(Probe::default());
    let lines = "{\"key\":\"a\"}\nnot json\n{\"refuse\":\"INVALID_VALUE\"}\n{\"key\":\"b\"}\n";
    let finished = protocol
        .run_task(ACTION, TaskOptions::default(), lines)
        .await;
    let summary = finished.summary();
    assert_eq!(summary[1], Err(ErrorCode::InvalidJson));
    assert_eq!(summary[2], Err(ErrorCode::InvalidValue));
    assert!(summary[0].is_ok() && summary[3].is_ok());
    assert_eq!((finished.task.succeeded, finished.task.failed), (2, 2));
    let mut keys: Vec<String> = written(&protocol, finished.task.id)
        .await
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    keys.sort();
    assert_eq!(keys, ["a", "b"], "chunks apply side by side");
}

#[tokio::test]
async fn a_dry_run_reports_what_would_happen_and_writes_nothing() {
    let mut protocol = protocol().await;
    protocol.run(Probe::default());
    let dry_run = TaskOptions {
        dry_run: true,
        ..TaskOptions::default()
    };
    let finished = protocol.run_task(ACTION, dry_run, &keys(4)).await;
    assert_eq!(finished.task.succeeded, 4);
    assert_eq!(
        finished.summary()[0],
        Ok(json!({"index": 0, "line": 1, "dry_run": "would_create"}))
    );
    assert!(written(&protocol, finished.task.id).await.is_empty());
}

#[tokio::test]
async fn chunks_of_an_in_order_task_apply_in_order_whatever_order_they_arrive_in() {
    let mut protocol = protocol().await;
    let task_id = protocol
        .accepted(ACTION, TaskOptions::default(), &keys(9))
        .await;
    let mut chunks = protocol.transport.take_queued(ACTION);
    chunks.reverse();
    protocol.transport.put_back(ACTION, chunks);
    protocol.run(Probe { in_order: true });
    protocol.finished(task_id).await;
    let order: Vec<i32> = written(&protocol, task_id)
        .await
        .into_iter()
        .map(|(index, _)| index)
        .collect();
    assert_eq!(order, (0..9).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_task_canceled_before_its_chunks_apply_fails_every_record_canceled() {
    let mut protocol = protocol().await;
    let task_id = protocol
        .accepted(ACTION, TaskOptions::default(), &keys(5))
        .await;
    let requested = protocol.cancel(task_id).await.unwrap();
    assert_eq!(requested.state, TaskState::Queued);
    let again = protocol.cancel(task_id).await.unwrap();
    assert_eq!(
        again.requested_at, requested.requested_at,
        "a repeat keeps the first time"
    );
    protocol.run(Probe::default());
    let finished = protocol.finished(task_id).await;
    assert!(
        finished
            .summary()
            .iter()
            .all(|outcome| *outcome == Err(ErrorCode::Canceled))
    );
    assert!(written(&protocol, task_id).await.is_empty());
    assert!(matches!(
        protocol.cancel(task_id).await,
        Err(TaskError::Refused(ControlRefusal::TaskCompleted(id))) if id == task_id
    ));
    let unknown = userhub_domain::TaskId::generate();
    assert!(matches!(
        protocol.cancel(unknown).await,
        Err(TaskError::Refused(ControlRefusal::TaskNotFound(_)))
    ));
}

#[tokio::test]
async fn a_retry_takes_the_retryable_failures_and_answers_the_same_child_twice() {
    let mut protocol = protocol().await;
    protocol.run(Probe::default());
    let lines = "{\"key\":\"ok\"}\n{\"refuse\":\"NOT_FOUND\"}\n{\"refuse\":\"INVALID_VALUE\"}\n";
    let parent = protocol
        .run_task(ACTION, TaskOptions::default(), lines)
        .await;
    let retried = protocol.retry(parent.task.id, false).await.unwrap();
    assert_eq!(
        retried.submitted.created.total, 1,
        "only the NOT_FOUND record"
    );
    assert!(!retried.submitted.replayed);
    let child = protocol.finished(retried.submitted.created.task_id).await;
    // The probe refuses it again; the child keeps the parent's index 1, so it is read by state.
    assert_eq!((child.task.succeeded, child.task.failed), (0, 1));
    assert_eq!(child.task.parent_task_id, Some(parent.task.id));
    let again = protocol.retry(parent.task.id, false).await.unwrap();
    assert!(again.submitted.replayed);
    assert_eq!(
        again.submitted.created.task_id,
        retried.submitted.created.task_id
    );
    let every = protocol.retry(parent.task.id, true).await.unwrap();
    assert_eq!(every.submitted.created.total, 2);
    assert_ne!(
        every.submitted.created.task_id,
        retried.submitted.created.task_id
    );
    let clean = protocol
        .run_task(ACTION, TaskOptions::default(), &keys(2))
        .await;
    assert!(matches!(
        protocol.retry(clean.task.id, true).await,
        Err(TaskError::Refused(ControlRefusal::NothingToRetry { .. }))
    ));
}

#[tokio::test]
async fn two_concurrent_retries_of_one_task_answer_the_same_child() {
    let mut protocol = protocol().await;
    protocol.run(Probe::default());
    let lines = "{\"refuse\":\"NOT_FOUND\"}\n{\"key\":\"a\"}\n";
    let finished = protocol
        .run_task(ACTION, TaskOptions::default(), lines)
        .await;
    let parent = finished.task.id;
    // The first retry's accept stays in flight (its publish is held), so that the second
    // finds the child's key in use.
    let hold = protocol.transport.hold_publishes().await;
    let (first, second) = tokio::join!(protocol.retry(parent, true), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let second = protocol.retry(parent, true);
        tokio::pin!(second);
        // Still waiting while the first cannot finish...
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(300), &mut second)
                .await
                .is_err(),
            "the second retry waits for the first"
        );
        drop(hold);
        second.await
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        first.submitted.created.task_id,
        second.submitted.created.task_id
    );
    assert!(!first.submitted.replayed && second.submitted.replayed);
}

#[tokio::test]
async fn a_revert_is_refused_where_it_cannot_apply() {
    let mut protocol = protocol().await;
    let queued = protocol
        .accepted(ACTION, TaskOptions::default(), &keys(1))
        .await;
    assert!(matches!(
        protocol.revert(queued).await,
        Err(TaskError::Refused(ControlRefusal::TaskNotCompleted {
            state: TaskState::Queued,
            ..
        }))
    ));
    protocol.run(Probe::default());
    protocol.finished(queued).await;
    assert!(
        matches!(
            protocol.revert(queued).await,
            Err(TaskError::Refused(ControlRefusal::NothingToRevert(_))),
        ),
        "the probe changes no profile"
    );
    let dry_run = TaskOptions {
        dry_run: true,
        ..TaskOptions::default()
    };
    let dry = protocol.run_task(ACTION, dry_run, &keys(1)).await;
    assert!(matches!(
        protocol.revert(dry.task.id).await,
        Err(TaskError::Refused(ControlRefusal::NotRevertible { .. }))
    ));
}

#[tokio::test]
async fn a_read_only_caller_can_neither_write_nor_control() {
    let mut protocol = protocol().await;
    let task_id = protocol
        .accepted(ACTION, TaskOptions::default(), &keys(1))
        .await;
    protocol.submitter.read_only = true;
    assert!(matches!(
        protocol
            .submit(ACTION, TaskOptions::default(), &keys(1))
            .await,
        Err(TaskError::ReadOnlyKey(_))
    ));
    for refused in [
        protocol.cancel(task_id).await.map(|_| ()),
        protocol.retry(task_id, true).await.map(|_| ()),
        protocol.revert(task_id).await.map(|_| ()),
    ] {
        assert!(matches!(
            refused,
            Err(TaskError::Refused(ControlRefusal::ReadOnlyKey(_)))
        ));
    }
}

#[tokio::test]
async fn the_same_idempotency_key_answers_the_first_task_and_refuses_other_content() {
    let protocol = protocol().await;
    let submit = |lines: String| {
        let request = userhub_tasks::intake::Submission {
            action: ACTION,
            options: TaskOptions::default(),
            format: userhub_domain::record::raw::PayloadFormat::JsonLines,
            records: userhub_tasks::testing::records(&lines),
        };
        protocol
            .intake
            .submit(&protocol.submitter, request, Some("import-7".to_owned()))
    };
    let first = submit(keys(2)).await.unwrap();
    let again = submit(keys(2)).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.created.task_id, first.created.task_id);
    assert!(matches!(
        submit(keys(3)).await,
        Err(TaskError::IdempotencyKeyReused)
    ));
    assert_eq!(protocol.transport.queued(ACTION), 1, "one task, one chunk");
}

#[tokio::test]
async fn a_dry_run_neither_records_nor_replays_its_idempotency_key() {
    let protocol = protocol().await;
    let submit = |dry_run: bool| {
        let request = userhub_tasks::intake::Submission {
            action: ACTION,
            options: TaskOptions {
                dry_run,
                ..TaskOptions::default()
            },
            format: userhub_domain::record::raw::PayloadFormat::JsonLines,
            records: userhub_tasks::testing::records(&keys(2)),
        };
        protocol.intake.submit(
            &protocol.submitter,
            request,
            Some("nightly.jsonl".to_owned()),
        )
    };
    let first = submit(true).await.unwrap();
    let second = submit(true).await.unwrap();
    assert!(!second.replayed, "a second dry run judges the data again");
    assert_ne!(first.created.task_id, second.created.task_id);
    let real = submit(false).await.unwrap();
    assert!(!real.replayed, "the real run after dry runs really runs");
    assert_ne!(real.created.task_id, second.created.task_id);
    let again = submit(false).await.unwrap();
    assert!(
        again.replayed,
        "the key still makes the real run idempotent"
    );
    assert_eq!(again.created.task_id, real.created.task_id);
    let dry_after = submit(true).await.unwrap();
    assert!(!dry_after.replayed, "a dry run never answers the real task");
    assert_ne!(dry_after.created.task_id, real.created.task_id);
}

#[tokio::test]
async fn a_chunk_that_keeps_failing_fails_its_records_and_is_dead_lettered() {
    let mut options = ProtocolOptions::default();
    options.worker.max_attempts = 2;
    let mut protocol = Protocol::start_with(options).await;
    install(&protocol).await;
    protocol.run(Probe::default());
    let lines = "{\"key\":\"a\"}\n{\"explode\":true}\n{\"key\":\"b\"}\n{\"key\":\"c\"}\n";
    let finished = protocol
        .run_task(ACTION, TaskOptions::default(), lines)
        .await;
    let summary = finished.summary();
    assert!(
        summary[..3]
            .iter()
            .all(|outcome| *outcome == Err(ErrorCode::ProcessingFailed))
    );
    assert!(summary[3].is_ok(), "the other chunk is not affected");
    let keys: Vec<String> = written(&protocol, finished.task.id)
        .await
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    assert_eq!(keys, ["c"], "the failed chunk's writes were rolled back");
    assert_eq!(protocol.transport.dead_letters(ACTION).len(), 1);
}

#[tokio::test]
async fn a_chunk_of_a_schema_this_version_does_not_know_is_dead_lettered_untouched() {
    let mut protocol = protocol().await;
    protocol.run(Probe::default());
    let body = json!({
        "schema": "userhub.chunk.v3", "task_id": 1, "domain_id": protocol.domain_id(),
        "domain": "d", "action": ACTION, "chunk_no": 0, "chunks_total": 1, "records": [],
    });
    let message = Outgoing {
        route: Route::Work {
            action: ACTION,
            domain_id: protocol.domain_id(),
        },
        message_id: "future".to_owned(),
        body: serde_json::to_vec(&body).unwrap(),
        headers: MessageHeaders::default(),
        priority: 1,
    };
    protocol.transport.publish(&[message]).await.unwrap();
    let dead = loop {
        let dead = protocol.transport.dead_letters(ACTION);
        if !dead.is_empty() {
            break dead;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(dead[0].message_id, "future");
    let reason = dead[0].headers.failure.clone().unwrap_or_default();
    assert!(reason.contains("userhub.chunk.v3"), "{reason}");
}

#[tokio::test]
async fn a_claim_check_whose_records_are_gone_fails_its_task_instead_of_retrying_forever() {
    let mut options = ProtocolOptions::default();
    options.worker.max_attempts = 2;
    let mut protocol = Protocol::start_with(options).await;
    install(&protocol).await;
    let task_id = protocol
        .accepted(ACTION, TaskOptions::default(), &keys(4))
        .await;
    let gone = protocol
        .query_text("DELETE FROM chunk_bodies WHERE chunk_no = 0 RETURNING chunk_no::text")
        .await;
    assert_eq!(gone.as_deref(), Some("0"));
    protocol.run(Probe::default());
    let finished = protocol.finished(task_id).await;
    assert_eq!(finished.task.outcome, Some(TaskOutcome::Failed));
    let reason = finished.task.failure_reason.clone().unwrap_or_default();
    assert!(reason.contains("chunk 0 are not stored"), "{reason}");
    assert_eq!(protocol.transport.dead_letters(ACTION).len(), 1);
}
