pub mod log;
pub mod scenario;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod cli;
pub mod demo;
pub mod diff;
pub mod inspect;
pub mod json;
pub mod proof;
pub mod record;
pub mod replayer;

pub use replayer::{ReplayError, ReplayOptions, ReplaySummary, Replayer, Session};
