//! Structure-aware input generation for the fuzz targets: a small genesis with
//! a valid but varied config, and blocks of transactions aimed at the current
//! state (real task and provider ids, the right signer and nonce most of the
//! time) so that fuzzing reaches deep flows instead of bouncing off checks.
//!
//! Every choice comes from an [`Unstructured`], so an input replays exactly.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use ed25519_zebra::SigningKey;

use crate::attestation::{
    public_key_from_seed, sign_attestation, AttestationEvidence, SignedAttestation,
};
use crate::block::Block;
use crate::config::{Config, RewardSchedule, VerificationMode};
use crate::genesis::{Genesis, GenesisProvider};
use crate::models::default_models;
use crate::state::State;
use crate::tasks::{Task, TaskStatus};
use crate::tx::{address_from_name, key_from_name, Action, GpuInfo, Redundancy, SignedTx, TxBody};
use crate::tx::{AuthError, VerifiedTx};
use crate::types::{Address, Amount, Hash, ProviderId, Sig64, TaskId, TaskType};

/// Chain id of every generated genesis.
pub const CHAIN_ID: &str = "aivm-fuzz";
/// Named actors; the last one never gets a genesis balance.
pub const ACTOR_COUNT: usize = 6;
const ONE_TOKEN: Amount = 1_000_000_000_000_000_000;
const ATTESTOR_SEEDS: [[u8; 32]; 2] = [[0xa1; 32], [0xa2; 32]];
/// Measurements attestations use: few, so revocations hit them.
const MEASUREMENTS: [[u8; 32]; 2] = [[0x31; 32], [0x32; 32]];
const DEVICE_MODELS: [&str; 5] = ["NVIDIA H100", "GB200", "RTX 5090", "RTX 4090", "toaster"];
const MODEL_NAMES: [&str; 4] = [
    "fuzz-model",
    "zen-mini-0.5b",
    "qwen3-8b",
    "a-very-long-model-identifier-x",
];

/// Bounds that keep one execution fast.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Blocks carrying transactions.
    pub blocks: u32,
    /// Transactions per block.
    pub txs: u32,
    /// Empty blocks inserted after a block, at most.
    pub gap: u64,
    /// Highest height reached.
    pub height: u64,
    /// Sign transactions for real. Without it (the state-machine targets) a
    /// transaction is authentic when its signature is all zero and its signer
    /// an actor ([`unsigned_verdict`]): ed25519 would otherwise take most of
    /// every execution, and signatures are fuzzed by `decode_block` and
    /// `replay_log`.
    pub sign: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            blocks: 8,
            txs: 16,
            gap: 48,
            height: 256,
            sign: false,
        }
    }
}

/// A named actor with its deterministic key.
pub struct Actor {
    pub name: String,
    pub key: SigningKey,
    pub addr: Address,
}

/// The actors, derived once per process (key derivation is the slow part).
pub fn actors() -> &'static [Actor] {
    static ACTORS: OnceLock<Vec<Actor>> = OnceLock::new();
    ACTORS.get_or_init(|| {
        (0..ACTOR_COUNT)
            .map(|i| {
                let name = format!("fuzz-{i}");
                Actor {
                    key: key_from_name(&name),
                    addr: address_from_name(&name),
                    name,
                }
            })
            .collect()
    })
}

fn attestor_keys() -> &'static [[u8; 32]] {
    static KEYS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    KEYS.get_or_init(|| ATTESTOR_SEEDS.iter().map(public_key_from_seed).collect())
}

/// Index of the actor owning `addr`, if it is one.
pub fn actor_index(addr: &Address) -> Option<usize> {
    actors().iter().position(|a| a.addr == *addr)
}

fn pick<T: Copy>(u: &mut Unstructured, items: &[T]) -> Result<T> {
    u.choose(items).copied()
}

/// A config derived from the default with fields varied inside `validate()`'s bounds.
pub fn config(u: &mut Unstructured) -> Result<Config> {
    let mut c = Config {
        verification_mode: pick(u, &VerificationMode::ALL)?,
        reward_schedule: pick(u, &[RewardSchedule::Flat, RewardSchedule::LuxV1])?,
        ..Config::default()
    };
    windows(u, &mut c)?;
    redundancy(u, &mut c)?;
    economics(u, &mut c)?;
    limits(u, &mut c)?;
    tee(u, &mut c)?;
    Ok(c)
}

fn windows(u: &mut Unstructured, c: &mut Config) -> Result<()> {
    let zero_ok = c.verification_mode == VerificationMode::MultiPartyRedundant;
    c.challenge_window_blocks = u.int_in_range(if zero_ok { 0 } else { 1 }..=12)?;
    c.tee_challenge_window_blocks = u.int_in_range(0..=c.challenge_window_blocks)?;
    c.post_finality_horizon_blocks =
        c.challenge_window_blocks - c.tee_challenge_window_blocks + u.int_in_range(0..=12)?;
    c.result_deadline_blocks = u.int_in_range(1..=8)?;
    c.commit_phase_blocks = u.int_in_range(1..=6)?;
    c.reveal_phase_blocks = u.int_in_range(1..=6)?;
    c.referee_commit_blocks = u.int_in_range(1..=6)?;
    c.referee_reveal_blocks = u.int_in_range(1..=6)?;
    c.unbond_cooldown_blocks = u.int_in_range(0..=10)?;
    c.epoch_duration_ms = pick(u, &[1, 5_000, 3_600_000])?;
    c.task_timeout_ms = pick(u, &[5_000, 60_000, 3_600_000])?;
    c.attestation_timeout_ms = pick(u, &[1, 30_000, u64::MAX])?;
    c.merkle_anchor_freq = u.int_in_range(1..=5)?;
    Ok(())
}

fn redundancy(u: &mut Unstructured, c: &mut Config) -> Result<()> {
    c.redundancy_n = if u.ratio(3, 4)? {
        3
    } else {
        u.int_in_range(4..=6)?
    };
    c.redundancy_factor = u.int_in_range(c.redundancy_n / 2 + 1..=c.redundancy_n)?;
    c.allow_per_task_redundancy = u.arbitrary()?;
    c.referee_count = pick(u, &[1, 3, 5])?;
    c.max_requeues = u.int_in_range(0..=2)?;
    Ok(())
}

fn bps(u: &mut Unstructured, max: u32) -> Result<u32> {
    if u.ratio(1, 2)? {
        pick(u, &[0, max / 2, max])
    } else {
        u.int_in_range(0..=max)
    }
}

fn economics(u: &mut Unstructured, c: &mut Config) -> Result<()> {
    c.tx_fee = pick(u, &[0, 1, 1_000_000])?;
    c.min_task_fee = pick(u, &[1, 1_000_000])?;
    c.base_reward = pick(u, &[0, 1, 1_000_000_000, 1_000_000_000_000_000])?;
    c.model_deposit = pick(u, &[1, ONE_TOKEN])?;
    c.protocol_share_bps = bps(u, 10_000)?;
    c.miss_slash_bps = bps(u, 10_000)?;
    c.winner_share_bps = bps(u, 10_000)?;
    c.referee_reward_share_bps = bps(u, 10_000 - c.winner_share_bps)?;
    c.majority_share_bps = bps(u, 10_000)?;
    c.min_provider_bond = pick(u, &[1_000_000, ONE_TOKEN])?;
    let bond = c.min_provider_bond;
    c.task_collateral = pick(u, &[1, bond / 10, bond])?;
    c.challenge_bond = c.task_collateral.saturating_mul(u.int_in_range(1..=3)?);
    c.divergence_slash = pick(u, &[0, bond / 10, bond])?;
    c.withhold_slash = pick(u, &[1, bond / 10, bond])?;
    c.referee_slash = pick(u, &[1, bond / 100, bond])?;
    Ok(())
}

fn limits(u: &mut Unstructured, c: &mut Config) -> Result<()> {
    c.max_providers_per_node = u.int_in_range(1..=3)?;
    c.max_tasks_per_provider = u.int_in_range(1..=4)?;
    c.max_task_queue_size = u.int_in_range(1..=8)?;
    c.max_inline_input = pick(u, &[0, 16, 4096])?;
    c.max_inline_output = pick(u, &[0, 16, 4096])?;
    c.max_endpoint_len = pick(u, &[0, 8, 256])?;
    c.max_gpus = pick(u, &[0, 2, 16])?;
    c.max_gpu_name_len = pick(u, &[0, 8, 64])?;
    // Long enough for the default models' ids, so the genesis stays valid.
    c.max_model_id_len = pick(u, &[16, 64])?;
    Ok(())
}

fn tee(u: &mut Unstructured, c: &mut Config) -> Result<()> {
    c.min_trust_score = u.int_in_range(0..=100)?;
    let keys = attestor_keys();
    let count = if c.verification_mode == VerificationMode::TeeAttested {
        u.int_in_range(1..=keys.len())?
    } else {
        u.int_in_range(0..=keys.len())?
    };
    c.trusted_attestors = keys.iter().take(count).copied().collect();
    c.require_tee_attestation = count > 0 && u.ratio(1, 3)?;
    Ok(())
}

fn amount(u: &mut Unstructured) -> Result<Amount> {
    if u.ratio(1, 8)? {
        return u.arbitrary();
    }
    pick(
        u,
        &[
            0,
            1,
            1_000_000,
            ONE_TOKEN / 10,
            ONE_TOKEN,
            5 * ONE_TOKEN,
            1_000 * ONE_TOKEN,
            u128::MAX / 64,
        ],
    )
}

/// A small genesis: named actors with balances, a varied valid config, maybe
/// custom models, genesis providers and a governance account.
pub fn genesis(u: &mut Unstructured) -> Result<Genesis> {
    let config = config(u)?;
    let mut balances = Vec::new();
    for a in actors().iter().take(ACTOR_COUNT - 1) {
        // Large enough to sum without overflow: a refused genesis wastes the input.
        let balance = pick(
            u,
            &[
                0,
                1_000_000,
                ONE_TOKEN,
                10 * ONE_TOKEN,
                1_000 * ONE_TOKEN,
                u128::MAX / 8,
            ],
        )?;
        balances.push((a.addr, balance));
    }
    let models = if u.ratio(1, 4)? {
        let mut ms = default_models();
        for m in ms.iter_mut() {
            m.retired = u.ratio(1, 4)?;
            if u.ratio(1, 4)? {
                m.owner = Some(actors()[u.choose_index(ACTOR_COUNT)?].addr);
                m.deposit = config.model_deposit;
            }
        }
        Some(ms)
    } else {
        None
    };
    let model_ids: Vec<String> = models
        .clone()
        .unwrap_or_else(default_models)
        .into_iter()
        .map(|m| m.id)
        .collect();
    let mut providers = Vec::new();
    // Distinct owners, so no owner exceeds MaxProvidersPerNode.
    let first_owner = u.choose_index(ACTOR_COUNT - 1)?;
    // Committees (M-of-N, referees) need that many distinct owners.
    let count = if u.ratio(7, 8)? {
        u.int_in_range(1..=ACTOR_COUNT - 1)?
    } else {
        0
    };
    for k in 0..count {
        let owner = actors()[(first_owner + k) % (ACTOR_COUNT - 1)].addr;
        providers.push(genesis_provider(u, &config, &model_ids, owner)?);
    }
    let governance = if u.ratio(3, 4)? {
        Some(actors()[u.choose_index(ACTOR_COUNT)?].addr)
    } else {
        None
    };
    Ok(Genesis {
        chain_id: CHAIN_ID.to_string(),
        time_ms: pick(u, &[0, 1, 1_700_000_000_000])?,
        config,
        balances,
        models,
        providers,
        governance,
    })
}

fn genesis_provider(
    u: &mut Unstructured,
    c: &Config,
    model_ids: &[String],
    owner: Address,
) -> Result<GenesisProvider> {
    let all = u.ratio(1, 2)?;
    let mut models = Vec::new();
    for id in model_ids {
        if all || u.ratio(1, 2)? {
            models.push(id.clone());
        }
    }
    if models.is_empty() {
        models.push(u.choose(model_ids)?.clone());
    }
    Ok(GenesisProvider {
        owner,
        endpoint: "g".repeat(c.max_endpoint_len.min(4) as usize),
        gpus: gpus(u, c.max_gpus.min(2))?,
        models,
        bond: c.min_provider_bond.saturating_mul(u.int_in_range(1..=3)?),
    })
}

fn gpus(u: &mut Unstructured, max: u32) -> Result<Vec<GpuInfo>> {
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(0..=max)? {
        out.push(GpuInfo {
            model: pick(u, &DEVICE_MODELS)?.to_string(),
            memory_gb: pick(u, &[0, 24, 80])?,
            count: pick(u, &[0, 1, 8])?,
        });
    }
    Ok(out)
}

/// A stand-in output of `task`: a few variants, so providers agree often but not always.
pub fn output_hash(task: &TaskId, variant: u8) -> Hash {
    let mut h = blake3::Hasher::new_derive_key("aivm fuzz output");
    h.update(&task.0);
    h.update(&[variant]);
    *h.finalize().as_bytes()
}

/// The salt a committee member (or challenger) uses for `task`.
pub fn salt(task: &TaskId, who: &[u8; 32]) -> Hash {
    let mut h = blake3::Hasher::new_derive_key("aivm fuzz salt");
    h.update(&task.0);
    h.update(who);
    *h.finalize().as_bytes()
}

/// Header fields of the next block on `state`.
#[derive(Clone, Debug)]
pub struct NextHeader {
    pub height: u64,
    pub parent: Hash,
    pub time_ms: u64,
    pub proposer: Address,
    pub seed: Hash,
}

impl NextHeader {
    pub fn block(&self, txs: Vec<SignedTx>) -> Block {
        Block::new(
            CHAIN_ID,
            self.height,
            self.parent,
            self.time_ms,
            self.proposer,
            self.seed,
            txs,
        )
    }
}

/// A valid header for the block after `state`'s tip.
pub fn next_header(u: &mut Unstructured, state: &State) -> Result<NextHeader> {
    let tip = state.tip();
    let step: u64 = if u.ratio(1, 8)? {
        u64::from(u.arbitrary::<u32>()?)
    } else {
        pick(u, &[0, 1, 2_000, 60_000, 3_600_000])?
    };
    let proposer = if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        actors()[u.choose_index(ACTOR_COUNT)?].addr
    };
    Ok(NextHeader {
        height: tip.height.saturating_add(1),
        parent: tip.block_id,
        time_ms: tip.time_ms.saturating_add(step),
        proposer,
        seed: u.arbitrary()?,
    })
}

/// The header of an empty block: deterministic, so gaps cost no input bytes.
pub fn empty_header(state: &State) -> NextHeader {
    let tip = state.tip();
    NextHeader {
        height: tip.height.saturating_add(1),
        parent: tip.block_id,
        time_ms: tip.time_ms.saturating_add(2_000),
        proposer: actors()[0].addr,
        seed: blake3::derive_key("aivm fuzz empty block seed", &tip.height.to_le_bytes()),
    }
}

/// Builds transactions against one state for one block.
pub struct TxGen<'s> {
    state: &'s State,
    header: NextHeader,
    sign: bool,
    nonces: BTreeMap<Address, u64>,
    new_tasks: Vec<TaskId>,
    new_providers: Vec<ProviderId>,
}

impl<'s> TxGen<'s> {
    pub fn new(state: &'s State, header: NextHeader, sign: bool) -> Self {
        TxGen {
            state,
            header,
            sign,
            nonces: BTreeMap::new(),
            new_tasks: Vec::new(),
            new_providers: Vec::new(),
        }
    }

    /// Up to `max` transactions.
    pub fn txs(&mut self, u: &mut Unstructured, max: u32) -> Result<Vec<SignedTx>> {
        Ok(self
            .judged_txs(u, max)?
            .into_iter()
            .map(|(tx, _)| tx)
            .collect())
    }

    /// Up to `max` transactions, each with its signature verdict.
    pub fn judged_txs(&mut self, u: &mut Unstructured, max: u32) -> Result<Vec<Judged>> {
        let mut out = Vec::new();
        for _ in 0..u.int_in_range(0..=max)? {
            out.push(self.judged_tx(u)?);
        }
        Ok(out)
    }

    /// One transaction, signed correctly most of the time.
    pub fn tx(&mut self, u: &mut Unstructured) -> Result<SignedTx> {
        Ok(self.judged_tx(u)?.0)
    }

    /// One transaction and its signature verdict. A transaction this generator
    /// signed and left alone verifies (actors' keys are sound), so only damaged
    /// ones are checked here: ed25519 is the bulk of an execution, and the
    /// replayers that consume these chains verify every signature for real, so
    /// a wrong verdict would still surface as a replay that misses the root.
    fn judged_tx(&mut self, u: &mut Unstructured) -> Result<Judged> {
        let (mut who, action) = self.action(u)?;
        if u.ratio(1, 8)? {
            who = u.choose_index(ACTOR_COUNT)?;
        }
        let actor = &actors()[who];
        let next = self
            .nonces
            .get(&actor.addr)
            .copied()
            .unwrap_or_else(|| self.state.account(&actor.addr).nonce);
        let nonce = if u.ratio(1, 16)? {
            u.arbitrary()?
        } else {
            next
        };
        let chain_id = if u.ratio(1, 32)? {
            "other-chain"
        } else {
            CHAIN_ID
        };
        let damaged = u.ratio(1, 16)?;
        // Only a transaction that will be charged uses up its nonce.
        let charged = nonce == next
            && chain_id == CHAIN_ID
            && !damaged
            && self.state.balance(&actor.addr) >= self.state.config().tx_fee;
        if charged {
            self.note_ids(&actor.addr, nonce, &action);
            self.nonces.insert(actor.addr, next.saturating_add(1));
        }
        let body = TxBody {
            chain_id: chain_id.to_string(),
            nonce,
            action,
        };
        let mut tx = if self.sign {
            body.sign(&actor.key)
        } else {
            SignedTx {
                signer: actor.addr,
                body,
                signature: Sig64::default(),
            }
        };
        if damaged {
            corrupt(u, &mut tx)?;
        }
        let verdict = if self.sign && !damaged {
            Ok(tx.assume_verified())
        } else {
            verdict(&tx, self.sign)
        };
        Ok((tx, verdict))
    }

    /// Remembers the ids a transaction will create, so later ones in the block can use them.
    fn note_ids(&mut self, signer: &Address, nonce: u64, action: &Action) {
        match action {
            Action::SubmitTask { .. } => self.new_tasks.push(TaskId::derive(signer, nonce)),
            Action::RegisterProvider { .. } => {
                self.new_providers.push(ProviderId::derive(signer, nonce))
            }
            _ => {}
        }
    }

    fn action(&mut self, u: &mut Unstructured) -> Result<(usize, Action)> {
        // Funded actors act far more often than the unfunded last one.
        let who = if u.ratio(1, 16)? {
            ACTOR_COUNT - 1
        } else {
            u.choose_index(ACTOR_COUNT - 1)?
        };
        if u.ratio(1, 2)? {
            if let Some(found) = self.opportunity(u, who)? {
                return Ok(found);
            }
        }
        // Weighted towards the task flow; every kind stays reachable.
        Ok(match u.int_in_range(0..=31u8)? {
            0..=2 => (who, self.transfer(u)?),
            3 => (who, self.register_model(u)?),
            4 if u.ratio(1, 3)? => self.retire_model(u, who)?,
            5..=7 => (who, self.register_provider(u, who)?),
            8 => self.for_provider(u, who, |g, u, p| {
                Ok(Action::TopUpBond {
                    provider: p,
                    amount: g.small_amount(u)?,
                })
            })?,
            9 if u.ratio(1, 3)? => {
                self.for_provider(u, who, |_, _, p| Ok(Action::Unbond { provider: p }))?
            }
            10 => self.for_provider(u, who, |_, _, p| Ok(Action::WithdrawBond { provider: p }))?,
            11 => self.attest(u, who)?,
            12..=16 => (who, self.submit_task(u)?),
            17..=20 => self.submit_result(u, who)?,
            21..=22 => self.challenge(u, who)?,
            23 => self.reveal_claim(u, who)?,
            24..=25 => self.commit_output(u, who)?,
            26..=27 => self.reveal_output(u, who)?,
            28..=29 => {
                self.for_provider(u, who, |_, _, p| Ok(Action::ClaimRewards { provider: p }))?
            }
            30 | 31 => (who, u.arbitrary()?),
            _ => (who, self.transfer(u)?),
        })
    }

    /// The natural next step of some task in flight, by the actor that should take it.
    fn opportunity(&mut self, u: &mut Unstructured, who: usize) -> Result<Option<(usize, Action)>> {
        use TaskStatus as S;
        let live = [
            S::Assigned,
            S::ResultPosted,
            S::Disputed,
            S::Committing,
            S::Revealing,
            S::Completed,
        ];
        let tasks = self.tasks_where(&live);
        if tasks.is_empty() {
            return Ok(None);
        }
        let task = *u.choose(&tasks)?;
        Ok(Some(match task.status {
            S::Assigned => self.submit_result(u, who)?,
            S::ResultPosted | S::Completed => self.challenge(u, who)?,
            S::Disputed if u.ratio(1, 3)? => self.reveal_claim(u, who)?,
            _ if u.ratio(1, 2)? => self.commit_output(u, who)?,
            _ => self.reveal_output(u, who)?,
        }))
    }

    fn small_amount(&self, u: &mut Unstructured) -> Result<Amount> {
        let c = self.state.config();
        if u.ratio(1, 8)? {
            return amount(u);
        }
        pick(
            u,
            &[
                1,
                c.tx_fee,
                c.min_task_fee,
                c.task_collateral,
                c.min_provider_bond,
            ],
        )
    }

    fn transfer(&mut self, u: &mut Unstructured) -> Result<Action> {
        let to = if u.ratio(1, 8)? {
            u.arbitrary()?
        } else {
            actors()[u.choose_index(ACTOR_COUNT)?].addr
        };
        Ok(Action::Transfer {
            to,
            amount: self.small_amount(u)?,
        })
    }

    fn model_id(&self, u: &mut Unstructured) -> Result<String> {
        let existing: Vec<String> = self
            .state
            .models()
            .iter()
            .filter(|m| !m.retired || u.ratio(1, 8).unwrap_or(false))
            .map(|m| m.id.clone())
            .collect();
        if !existing.is_empty() && u.ratio(3, 4)? {
            return Ok(u.choose(&existing)?.clone());
        }
        if u.ratio(1, 8)? {
            return u.arbitrary();
        }
        Ok(pick(u, &MODEL_NAMES)?.to_string())
    }

    fn register_model(&mut self, u: &mut Unstructured) -> Result<Action> {
        let id = if u.ratio(1, 4)? {
            self.model_id(u)?
        } else {
            pick(u, &MODEL_NAMES)?.to_string()
        };
        let mut task_types = Vec::new();
        for t in TaskType::ALL {
            if u.ratio(2, 3)? {
                task_types.push(t);
            }
        }
        Ok(Action::RegisterModel {
            id,
            weights_hash: u.arbitrary()?,
            task_types,
            context_length: if u.ratio(1, 8)? { 0 } else { 8_192 },
        })
    }

    fn retire_model(&mut self, u: &mut Unstructured, who: usize) -> Result<(usize, Action)> {
        let signer = match self.state.governance().and_then(|g| actor_index(&g)) {
            Some(g) if u.ratio(7, 8)? => g,
            _ => who,
        };
        Ok((
            signer,
            Action::RetireModel {
                id: self.model_id(u)?,
            },
        ))
    }

    fn register_provider(&mut self, u: &mut Unstructured, who: usize) -> Result<Action> {
        let c = self.state.config();
        let mut models = Vec::new();
        for _ in 0..u.int_in_range(1..=3)? {
            models.push(self.model_id(u)?);
        }
        if u.ratio(1, 16)? {
            models.clear();
        }
        let endpoint_len = if u.ratio(1, 8)? {
            c.max_endpoint_len.saturating_add(1)
        } else {
            pick(u, &[0, 1, 5])?.min(c.max_endpoint_len)
        };
        let bond = if u.ratio(3, 4)? {
            c.min_provider_bond.saturating_mul(u.int_in_range(1..=3)?)
        } else {
            amount(u)?
        };
        let gpu_max = if u.ratio(1, 8)? {
            c.max_gpus.min(3).saturating_add(1)
        } else {
            0
        };
        let attestation = if u.ratio(1, 2)? {
            Some(self.attestation(u, &actors()[who].addr)?)
        } else {
            None
        };
        Ok(Action::RegisterProvider {
            endpoint: "e".repeat(endpoint_len.min(300) as usize),
            gpus: gpus(u, gpu_max)?,
            models,
            bond,
            attestation,
        })
    }

    /// Evidence for `owner`, signed by a trusted attestor most of the time.
    fn attestation(&self, u: &mut Unstructured, owner: &Address) -> Result<SignedAttestation> {
        let now = self.header.time_ms;
        let seed_index = u.choose_index(ATTESTOR_SEEDS.len())?;
        let seed = ATTESTOR_SEEDS[seed_index];
        let provider_key = if u.ratio(1, 8)? {
            u.arbitrary()?
        } else {
            owner.0
        };
        let evidence = AttestationEvidence {
            tee_type: u.arbitrary()?,
            kind: u.arbitrary()?,
            device_model: pick(u, &DEVICE_MODELS)?.to_string(),
            measurement: pick(u, &MEASUREMENTS)?,
            cc_enabled: u.arbitrary()?,
            tee_io: u.arbitrary()?,
            rim_verified: u.arbitrary()?,
            benchmark_ok: u.arbitrary()?,
            driver_ok: u.arbitrary()?,
            issued_at_ms: now.saturating_sub(pick(u, &[0, 1_000, 60_000])?),
            expires_at_ms: now.saturating_add(pick(u, &[0, 1, 10_000, 3_600_000])?),
            provider_key,
            attestor: public_key_from_seed(&seed),
        };
        let mut signed = sign_attestation(&seed, evidence);
        if u.ratio(1, 16)? {
            signed.signature[0] ^= 1;
        }
        Ok(signed)
    }

    /// A provider id and the actor that should act for it (its owner, usually).
    fn provider(&self, u: &mut Unstructured, who: usize) -> Result<(usize, ProviderId)> {
        let mut known: Vec<(Option<usize>, ProviderId)> = self
            .state
            .providers()
            .iter()
            .map(|p| (actor_index(&p.owner), p.id))
            .collect();
        known.extend(self.new_providers.iter().map(|p| (None, *p)));
        if known.is_empty() || u.ratio(1, 16)? {
            return Ok((who, u.arbitrary()?));
        }
        let (owner, id) = *u.choose(&known)?;
        Ok((owner.unwrap_or(who), id))
    }

    fn for_provider(
        &mut self,
        u: &mut Unstructured,
        who: usize,
        make: impl FnOnce(&mut Self, &mut Unstructured, ProviderId) -> Result<Action>,
    ) -> Result<(usize, Action)> {
        let (signer, id) = self.provider(u, who)?;
        Ok((signer, make(self, u, id)?))
    }

    fn attest(&mut self, u: &mut Unstructured, who: usize) -> Result<(usize, Action)> {
        let (signer, provider) = self.provider(u, who)?;
        let owner = actors()[signer].addr;
        let attestation = self.attestation(u, &owner)?;
        Ok((
            signer,
            Action::Attest {
                provider,
                attestation,
            },
        ))
    }

    fn submit_task(&mut self, u: &mut Unstructured) -> Result<Action> {
        let c = self.state.config();
        let fee = if u.ratio(7, 8)? {
            c.min_task_fee.saturating_mul(u.int_in_range(1..=4)?)
        } else {
            amount(u)?
        };
        let input_len = pick(
            u,
            &[
                0,
                4,
                c.max_inline_input.min(64),
                c.max_inline_input.saturating_add(1),
            ],
        )?;
        let redundancy = if u.ratio(1, 4)? {
            let n = u.int_in_range(2..=6)?;
            Some(Redundancy {
                n,
                m: u.int_in_range(0..=n)?,
            })
        } else {
            None
        };
        Ok(Action::SubmitTask {
            model: self.model_id(u)?,
            task_type: u.arbitrary()?,
            input_hash: u.arbitrary()?,
            inline_input: vec![7; input_len.min(5_000) as usize],
            fee,
            redundancy,
        })
    }

    fn tasks_where(&self, status: &[TaskStatus]) -> Vec<&'s Task> {
        self.state
            .tasks()
            .filter(|t| status.contains(&t.status))
            .collect()
    }

    /// Some task id: of a task in one of `status`, a task created earlier in this block, or any.
    fn task_id(&self, u: &mut Unstructured, status: &[TaskStatus]) -> Result<TaskId> {
        let tasks = self.tasks_where(status);
        if !tasks.is_empty() && u.ratio(7, 8)? {
            return Ok(u.choose(&tasks)?.id);
        }
        if !self.new_tasks.is_empty() && u.ratio(1, 2)? {
            return Ok(*u.choose(&self.new_tasks)?);
        }
        if u.ratio(1, 2)? {
            if let Some(t) = self.state.tasks().next() {
                return Ok(t.id);
            }
        }
        u.arbitrary()
    }

    fn owner_of(&self, provider: &ProviderId) -> Option<usize> {
        self.state
            .provider(provider)
            .and_then(|p| actor_index(&p.owner))
    }

    fn submit_result(&mut self, u: &mut Unstructured, who: usize) -> Result<(usize, Action)> {
        let id = self.task_id(u, &[TaskStatus::Assigned])?;
        let task = self.state.task(&id);
        let (signer, provider) = match task.and_then(|t| t.provider) {
            Some(p) if u.ratio(7, 8)? => (self.owner_of(&p).unwrap_or(who), p),
            _ => self.provider(u, who)?,
        };
        let max = self.state.config().max_inline_output;
        let len = pick(u, &[0, 3, max.min(64), max.saturating_add(1)])?;
        Ok((
            signer,
            Action::SubmitResult {
                task: id,
                provider,
                output_hash: output_hash(&id, u.int_in_range(0..=2)?),
                inline_output: vec![9; len.min(5_000) as usize],
                compute_time_ms: pick(u, &[0, 1_000, u64::MAX])?,
            },
        ))
    }

    fn challenge(&mut self, u: &mut Unstructured, who: usize) -> Result<(usize, Action)> {
        let id = self.task_id(u, &[TaskStatus::ResultPosted, TaskStatus::Completed])?;
        let claim = commitments::claim(
            &id,
            &actors()[who].addr,
            &output_hash(&id, u.int_in_range(0..=2)?),
        );
        Ok((who, Action::Challenge { task: id, claim }))
    }

    fn reveal_claim(&mut self, u: &mut Unstructured, who: usize) -> Result<(usize, Action)> {
        let id = self.task_id(u, &[TaskStatus::Disputed])?;
        let challenger = self
            .state
            .task(&id)
            .and_then(|t| t.challenge.as_ref())
            .map(|c| (c.challenger, c.claim));
        let (signer, output) = match challenger {
            Some((addr, claim)) if u.ratio(7, 8)? => {
                let signer = actor_index(&addr).unwrap_or(who);
                let variant = (0..=2)
                    .find(|v| commitments::claim(&id, &addr, &output_hash(&id, *v)) == claim);
                (signer, output_hash(&id, variant.unwrap_or(0)))
            }
            _ => (who, output_hash(&id, u.int_in_range(0..=2)?)),
        };
        let salt = salt(&id, &actors()[signer].addr.0);
        Ok((
            signer,
            Action::RevealClaim {
                task: id,
                output_hash: output,
                salt,
            },
        ))
    }

    /// A committee member of a disputed or M-of-N task, and the actor owning it.
    fn member(&self, u: &mut Unstructured, who: usize) -> Result<(TaskId, usize, ProviderId)> {
        let id = self.task_id(
            u,
            &[
                TaskStatus::Disputed,
                TaskStatus::Committing,
                TaskStatus::Revealing,
            ],
        )?;
        let members: Vec<ProviderId> = self
            .state
            .task(&id)
            .map(|t| t.committee.iter().map(|m| m.provider).collect())
            .unwrap_or_default();
        if !members.is_empty() && u.ratio(7, 8)? {
            let p = *u.choose(&members)?;
            return Ok((id, self.owner_of(&p).unwrap_or(who), p));
        }
        let (signer, p) = self.provider(u, who)?;
        Ok((id, signer, p))
    }

    fn commit_output(&mut self, u: &mut Unstructured, who: usize) -> Result<(usize, Action)> {
        let (task, signer, provider) = self.member(u, who)?;
        let out = output_hash(&task, u.int_in_range(0..=2)?);
        let commitment = commitments::output(&task, &provider, &out, &salt(&task, &provider.0));
        Ok((
            signer,
            Action::CommitOutput {
                task,
                provider,
                commitment,
            },
        ))
    }

    fn reveal_output(&mut self, u: &mut Unstructured, who: usize) -> Result<(usize, Action)> {
        let (task, signer, provider) = self.member(u, who)?;
        let salt = salt(&task, &provider.0);
        let committed = self
            .state
            .task(&task)
            .and_then(|t| t.committee.iter().find(|m| m.provider == provider))
            .and_then(|m| m.commitment);
        let variant = (0..=2u8).find(|v| {
            Some(commitments::output(
                &task,
                &provider,
                &output_hash(&task, *v),
                &salt,
            )) == committed
        });
        let variant = match variant {
            Some(v) if u.ratio(7, 8)? => v,
            _ => u.int_in_range(0..=2)?,
        };
        Ok((
            signer,
            Action::RevealOutput {
                task,
                provider,
                output_hash: output_hash(&task, variant),
                salt,
            },
        ))
    }
}

/// The signature verdict of a transaction built without signing: authentic
/// when untouched (zero signature, an actor's address), refused otherwise.
pub fn unsigned_verdict(tx: &SignedTx) -> Verdict {
    if tx.signature == Sig64::default() && actor_index(&tx.signer).is_some() {
        Ok(tx.assume_verified())
    } else {
        Err(AuthError::BadSignature)
    }
}

/// What signature verification says of a transaction.
pub type Verdict = std::result::Result<VerifiedTx, AuthError>;

/// A generated transaction with its [`Verdict`].
pub type Judged = (SignedTx, Verdict);

/// The verdict on `tx`: a real one, or its [`unsigned_verdict`].
pub fn verdict(tx: &SignedTx, signed: bool) -> Verdict {
    if signed {
        tx.verify()
    } else {
        unsigned_verdict(tx)
    }
}

/// Signature verdicts of `txs`: real ones, or [`unsigned_verdict`]s.
pub fn verdicts(txs: &[SignedTx], signed: bool) -> Vec<Verdict> {
    txs.iter().map(|tx| verdict(tx, signed)).collect()
}

/// Damages a signed transaction: the chain must reject it, never panic.
fn corrupt(u: &mut Unstructured, tx: &mut SignedTx) -> Result<()> {
    match u.int_in_range(0..=2u8)? {
        0 => tx.signature.0[u.choose_index(64)?] ^= 1,
        1 => tx.signer = actors()[u.choose_index(ACTOR_COUNT)?].addr,
        _ => tx.signer = u.arbitrary()?,
    }
    Ok(())
}

/// The commitments the chain checks reveals against, with the salts this generator uses.
mod commitments {
    use crate::dispute::{claim_commitment, output_commitment};
    use crate::types::{Address, Hash, ProviderId, TaskId};

    /// A challenger's claim on the output of `task`.
    pub fn claim(task: &TaskId, challenger: &Address, output: &Hash) -> Hash {
        claim_commitment(task, challenger, output, &super::salt(task, &challenger.0))
    }

    /// A committee member's commitment to `output`.
    pub fn output(task: &TaskId, provider: &ProviderId, output: &Hash, salt: &Hash) -> Hash {
        output_commitment(task, provider, output, salt)
    }
}
