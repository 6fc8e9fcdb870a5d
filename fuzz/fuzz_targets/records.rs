//! Fuzz target: every record parser on arbitrary text (see `userhub_gateway::decoders`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        userhub_gateway::decoders::fuzz_record(text);
    }
});
