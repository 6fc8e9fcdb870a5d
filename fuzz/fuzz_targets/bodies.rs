//! Fuzz target: every request-body decoder on arbitrary bytes (see `userhub_gateway::decoders`
//! and `userhub_compat::fuzz_document`; the first byte picks which).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    userhub_gateway::decoders::fuzz_body(data);
    userhub_compat::fuzz_document(data);
});
