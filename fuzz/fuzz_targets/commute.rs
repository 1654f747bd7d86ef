#![no_main]
//! See docs/FUZZING.md. The property lives in `aivm_core::fuzzing::check_commute` so that
//! `cargo test` on stable replays this target's corpus through the very same code.

libfuzzer_sys::fuzz_target!(|data: &[u8]| aivm_core::fuzzing::check_commute(data));
