//! The model registry: three default models, permissionless registration for a
//! deposit, retirement by the governance account.

use serde::{Deserialize, Serialize};

use crate::apply::Ctx;
use crate::events::Event;
use crate::outcome::TxError;
use crate::state::State;
use crate::types::{Address, Amount, Hash, ModelId, TaskType};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub id: ModelId,
    pub weights_hash: Hash,
    pub task_types: Vec<TaskType>,
    pub context_length: u32,
    /// None for the genesis models.
    pub owner: Option<Address>,
    /// Held while the model is registered; returned on retirement.
    pub deposit: Amount,
    pub retired: bool,
}

impl Model {
    pub fn serves(&self, t: TaskType) -> bool {
        !self.retired && self.task_types.contains(&t)
    }
}

/// The Go package's three default models (context lengths from its docs).
pub fn default_models() -> Vec<Model> {
    [
        ("zen-coder-1.5b", 32_768u32),
        ("zen-mini-0.5b", 8_192),
        ("qwen3-8b", 131_072),
    ]
    .into_iter()
    .map(|(id, ctx)| Model {
        id: id.to_string(),
        weights_hash: blake3::derive_key("aivm v1 default model weights", id.as_bytes()),
        task_types: TaskType::ALL.to_vec(),
        context_length: ctx,
        owner: None,
        deposit: 0,
        retired: false,
    })
    .collect()
}

pub(crate) fn valid_model_id(id: &str, max: u32) -> bool {
    !id.is_empty() && id.len() <= max as usize && id.bytes().all(|b| b.is_ascii_graphic())
}

pub(crate) fn register(
    ctx: &mut Ctx,
    id: ModelId,
    weights_hash: Hash,
    mut task_types: Vec<TaskType>,
    context_length: u32,
) -> Result<(), TxError> {
    let cfg = ctx.state.config.clone();
    if !valid_model_id(&id, cfg.max_model_id_len) {
        return Err(TxError::BadModelId {
            max: cfg.max_model_id_len,
        });
    }
    task_types.sort();
    task_types.dedup();
    if task_types.is_empty() || context_length == 0 {
        return Err(TxError::BadModelSpec);
    }
    if ctx.state.models.contains(&id) {
        return Err(TxError::ModelExists(id));
    }
    let owner = ctx.signer;
    ctx.state.debit(&owner, cfg.model_deposit)?;
    ctx.events.push(Event::ModelRegistered {
        id: id.clone(),
        owner,
        deposit: cfg.model_deposit,
    });
    ctx.state.models.insert(
        id.clone(),
        Model {
            id,
            weights_hash,
            task_types,
            context_length,
            owner: Some(owner),
            deposit: cfg.model_deposit,
            retired: false,
        },
    );
    Ok(())
}

pub(crate) fn retire(ctx: &mut Ctx, id: ModelId) -> Result<(), TxError> {
    if ctx.state.governance != Some(ctx.signer) {
        return Err(TxError::NotGovernance);
    }
    let mut model = ctx
        .state
        .models
        .get(&id)
        .cloned()
        .ok_or_else(|| TxError::UnknownModel(id.clone()))?;
    if model.retired {
        return Err(TxError::ModelRetired(id));
    }
    // The deposit goes back at block end (`return_deposits`), not here: the owner's
    // account is not among this transaction's conflict keys, so crediting it here would
    // make the retirement order-dependent against the owner's own spending.
    model.retired = true;
    ctx.state.models.insert(id.clone(), model);
    ctx.events.push(Event::ModelRetired { id });
    Ok(())
}

/// Block end: returns the deposits of retired models to their owners. Scans the
/// registry, which the deposit keeps small.
pub(crate) fn return_deposits(state: &mut State, events: &mut Vec<Event>) {
    let due: Vec<Model> = state
        .models
        .values()
        .filter(|m| m.retired && m.deposit > 0 && m.owner.is_some())
        .cloned()
        .collect();
    for mut m in due {
        let Some(owner) = m.owner else { continue };
        if state.credit(&owner, m.deposit).is_err() {
            continue;
        }
        events.push(Event::ModelDepositReturned {
            id: m.id.clone(),
            owner,
            amount: m.deposit,
        });
        m.deposit = 0;
        state.models.insert(m.id.clone(), m);
    }
}
