//! Human-writable JSON scenarios: a genesis plus blocks of transactions by
//! named actors, with optional expectations. See `fixtures/scenarios/README.md`.

use std::path::Path;

use aivm_core::{Block, BlockOutcome, Genesis};
use serde::Serialize;

/// A parsed scenario, ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
}

/// Why a scenario could not be parsed, run or written.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{0}")]
    Unimplemented(&'static str),
}

/// What running a scenario produced.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
}

impl ScenarioReport {
    pub fn render_text(&self) -> String {
        String::new()
    }

    pub fn passed(&self) -> bool {
        false
    }
}

pub fn parse(_json: &str) -> Result<Scenario, ScenarioError> {
    Err(ScenarioError::Unimplemented("scenario parsing"))
}

pub fn run(_s: &Scenario) -> Result<ScenarioReport, ScenarioError> {
    Err(ScenarioError::Unimplemented("scenario run"))
}

pub fn compile(_s: &Scenario) -> Result<(Genesis, Vec<Block>, Vec<BlockOutcome>), ScenarioError> {
    Err(ScenarioError::Unimplemented("scenario compile"))
}

pub fn write_log(
    _path: &Path,
    _genesis: &Genesis,
    _blocks: &[Block],
    _outcomes: &[BlockOutcome],
) -> Result<(), ScenarioError> {
    Err(ScenarioError::Unimplemented("scenario write_log"))
}
