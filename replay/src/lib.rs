pub mod cli;
pub mod demo;
pub mod diff;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod inspect;
pub mod json;
pub mod log;
pub mod pipeline;
pub mod proof;
pub mod record;
pub mod replayer;
pub mod scenario;

pub use replayer::{ReplayError, ReplayOptions, ReplaySummary, Replayer, Session};
