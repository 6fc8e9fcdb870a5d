//! Fuzz target: every request-body decoder on arbitrary bytes (see `userhub_gateway::decoders`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    userhub_gateway::decoders::fuzz_body(data);
});
