//! The genesis: config, initial balances, models and (optionally) providers.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::encoding::digest;
use crate::models::{default_models, valid_model_id, Model};
use crate::providers::{Provider, ProviderStats, ProviderStatus};
use crate::state::{Globals, State, Tip};
use crate::tx::GpuInfo;
use crate::types::{Address, Amount, Hash, ModelId, ProviderId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisProvider {
    pub owner: Address,
    pub endpoint: String,
    pub gpus: Vec<GpuInfo>,
    pub models: Vec<ModelId>,
    pub bond: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    pub chain_id: String,
    /// Time of the genesis; the first block may not be earlier.
    pub time_ms: u64,
    pub config: Config,
    pub balances: Vec<(Address, Amount)>,
    /// None: the three default models.
    pub models: Option<Vec<Model>>,
    pub providers: Vec<GenesisProvider>,
    /// The account allowed to retire models.
    pub governance: Option<Address>,
}

impl Genesis {
    /// A genesis with the default config and models and the given balances.
    pub fn new(chain_id: &str, balances: Vec<(Address, Amount)>) -> Self {
        Genesis {
            chain_id: chain_id.to_string(),
            time_ms: 0,
            config: Config::default(),
            balances,
            models: None,
            providers: Vec::new(),
            governance: None,
        }
    }

    /// Parent hash of block 1 and the chain's identity.
    pub fn hash(&self) -> Hash {
        digest("aivm v1 genesis", self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GenesisError {
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    #[error("chain id must be 1..=64 printable ASCII bytes")]
    BadChainId,
    #[error("account {0} is listed twice")]
    DuplicateAccount(Address),
    #[error("initial supply overflows u128")]
    SupplyOverflow,
    #[error("model {0:?} is listed twice or is malformed")]
    BadModel(String),
    #[error("genesis provider #{index}: {reason}")]
    BadProvider { index: u64, reason: String },
}

impl State {
    pub fn genesis(g: &Genesis) -> Result<State, GenesisError> {
        g.config.validate()?;
        if !valid_model_id(&g.chain_id, 64) {
            return Err(GenesisError::BadChainId);
        }
        let mut state = State {
            chain_id: Arc::from(g.chain_id.as_str()),
            config: Arc::new(g.config.clone()),
            governance: g.governance,
            genesis_hash: g.hash(),
            tip: Tip {
                height: 0,
                block_id: g.hash(),
                time_ms: g.time_ms,
            },
            globals: Globals::default(),
            accounts: Default::default(),
            providers: Default::default(),
            tasks: Default::default(),
            models: Default::default(),
            queue: Default::default(),
            timers: Default::default(),
            state_root: [0u8; 32],
            journal: Default::default(),
        };
        let mut supply: Amount = 0;
        for (addr, amount) in &g.balances {
            if state.accounts.contains(addr) {
                return Err(GenesisError::DuplicateAccount(*addr));
            }
            supply = supply
                .checked_add(*amount)
                .ok_or(GenesisError::SupplyOverflow)?;
            state.accounts.insert(
                *addr,
                crate::accounts::Account {
                    balance: *amount,
                    ..Default::default()
                },
            );
        }
        for m in g.models.clone().unwrap_or_else(default_models) {
            if !valid_model_id(&m.id, g.config.max_model_id_len) || state.models.contains(&m.id) {
                return Err(GenesisError::BadModel(m.id));
            }
            supply = supply
                .checked_add(m.deposit)
                .ok_or(GenesisError::SupplyOverflow)?;
            state.models.insert(m.id.clone(), m);
        }
        for (i, gp) in g.providers.iter().enumerate() {
            supply = supply
                .checked_add(gp.bond)
                .ok_or(GenesisError::SupplyOverflow)?;
            add_genesis_provider(&mut state, i as u64, gp)?;
        }
        state.globals.total_supply = supply;
        state.globals.total_minted = 0;
        state.commit_roots();
        Ok(state)
    }
}

fn add_genesis_provider(
    state: &mut State,
    index: u64,
    gp: &GenesisProvider,
) -> Result<(), GenesisError> {
    let bad = |reason: &str| GenesisError::BadProvider {
        index,
        reason: reason.to_string(),
    };
    if gp.bond < state.config.min_provider_bond {
        return Err(bad("bond below MinProviderBond"));
    }
    if gp.models.is_empty() || gp.models.iter().any(|m| !state.models.contains(m)) {
        return Err(bad("must serve at least one known model"));
    }
    if gp.endpoint.len() > state.config.max_endpoint_len as usize
        || gp.gpus.len() > state.config.max_gpus as usize
    {
        return Err(bad("endpoint or GPU list too long"));
    }
    let mut acct = state.account(&gp.owner);
    if acct.providers >= state.config.max_providers_per_node {
        return Err(bad("owner exceeds MaxProvidersPerNode"));
    }
    acct.providers += 1;
    state.accounts.insert(gp.owner, acct);
    let id = ProviderId::genesis(&gp.owner, index);
    let mut models = gp.models.clone();
    models.sort();
    models.dedup();
    state.providers.insert(
        id,
        Provider {
            id,
            owner: gp.owner,
            endpoint: gp.endpoint.as_str().into(),
            gpus: gp.gpus.as_slice().into(),
            models: models.into(),
            bond: gp.bond,
            locked: 0,
            status: ProviderStatus::Active,
            open_tasks: 0,
            registered_height: 0,
            attestation: None,
            trust: 0,
            stats: ProviderStats::default(),
            bond_before_change: gp.bond,
            bond_changed_at: 0,
        },
    );
    Ok(())
}
