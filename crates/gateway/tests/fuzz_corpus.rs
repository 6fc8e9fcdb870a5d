//! Replays the committed corpus of the fuzz targets (`fuzz/corpus/`) through the same checks the
//! targets run, so every input a fuzzing campaign kept stays a regression test of `make test`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use userhub_gateway::decoders::{fuzz_body, fuzz_record};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            (path, data)
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
    inputs
}

#[test]
fn every_record_of_the_corpus_is_read_or_refused_with_reasons() {
    for (path, data) in corpus("records") {
        if let Ok(text) = std::str::from_utf8(&data) {
            let outcome = std::panic::catch_unwind(|| fuzz_record(text));
            assert!(outcome.is_ok(), "{} failed", path.display());
        }
    }
}

#[test]
fn every_body_of_the_corpus_is_read_or_refused() {
    for (path, data) in corpus("bodies") {
        let outcome = std::panic::catch_unwind(|| fuzz_body(&data));
        assert!(outcome.is_ok(), "{} failed", path.display());
    }
}
