pub mod log;
pub mod scenario;
