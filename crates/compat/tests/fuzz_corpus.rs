//! Replays the committed corpus of the `bodies` fuzz target (`fuzz/corpus/bodies`) through the
//! compatible endpoints' document readers, as the target does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use userhub_compat::fuzz_document;

#[test]
fn every_document_of_the_corpus_is_read_or_refused() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/bodies");
    let mut documents = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if data.first().is_some_and(|selector| selector % 6 == 5) {
            documents += 1;
        }
        let outcome = std::panic::catch_unwind(|| fuzz_document(&data));
        assert!(outcome.is_ok(), "{} failed", path.display());
    }
    assert!(documents > 0, "the corpus holds no compatible documents");
}
