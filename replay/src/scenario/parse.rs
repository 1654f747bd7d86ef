//! JSON text to [`Scenario`]: every field checked, every bound enforced, every
//! error naming its JSON path. Never panics, whatever the input.

use std::collections::BTreeMap;

use aivm_core::attestation::{EvidenceKind, TeeType};
use aivm_core::config::Config;
use aivm_core::genesis::GenesisProvider;
use aivm_core::models::Model;
use aivm_core::tx::{address_from_name, GpuInfo, Redundancy};
use aivm_core::types::{parse_hex, Address, Hash, ProviderId, TaskId, TaskType};
use aivm_core::{Genesis, State};
use serde_json::Value;

use super::json::{invalid, kind_of, At};
use super::spec::*;
use super::{Scenario, ScenarioError};

/// Largest scenario text accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 64 << 20;
/// Most entries of `blocks`.
pub const MAX_BLOCK_ENTRIES: usize = 10_000;
/// Most transactions in one block.
pub const MAX_TXS_PER_BLOCK: usize = 10_000;
/// Most transactions in a whole scenario.
pub const MAX_TXS_TOTAL: usize = 100_000;
/// Most empty blocks all `advance` entries may add together.
pub const MAX_ADVANCE_TOTAL: u64 = 1_000_000;
/// Bound of every other list or map (balances, providers, GPUs, checks...).
const MAX_LIST: usize = 10_000;
/// Longest actor name or label, in bytes.
const MAX_NAME: usize = 64;
/// Longest free text (name, description, note), in bytes.
const MAX_TEXT: usize = 4096;
/// Longest inline payload given in a scenario, in bytes.
const MAX_PAYLOAD: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LabelKind {
    Task,
    Provider,
}

impl LabelKind {
    fn name(self) -> &'static str {
        match self {
            LabelKind::Task => "task",
            LabelKind::Provider => "provider",
        }
    }
}

#[derive(Default)]
struct Parser {
    labels: BTreeMap<String, LabelKind>,
    names: BTreeMap<Address, String>,
    texts: BTreeMap<Hash, String>,
    genesis_labels: Vec<(String, ProviderId)>,
    txs_total: usize,
    advance_total: u64,
}

pub(crate) fn parse(json: &str) -> Result<Scenario, ScenarioError> {
    if json.len() > MAX_INPUT_BYTES {
        return Err(invalid(
            "",
            format!(
                "scenario is {} bytes, at most {MAX_INPUT_BYTES} are allowed",
                json.len()
            ),
        ));
    }
    let value: Value = serde_json::from_str(json).map_err(|e| ScenarioError::Json {
        line: e.line() as u64,
        column: e.column() as u64,
        message: e.to_string(),
    })?;
    let root = At {
        path: String::new(),
        v: &value,
    };
    Parser::default().scenario(&root)
}

impl Parser {
    fn scenario(mut self, root: &At) -> Result<Scenario, ScenarioError> {
        let mut o = root.obj()?;
        let name = match o.opt("name") {
            Some(n) => n.text(MAX_TEXT)?,
            None => "scenario".to_string(),
        };
        let description = match o.opt("description") {
            Some(n) => n.text(MAX_TEXT)?,
            None => String::new(),
        };
        let genesis = match o.opt("genesis") {
            Some(g) => self.genesis(&g)?,
            None => self.genesis_defaults(),
        };
        let block_time_ms = match o.opt("block_time_ms") {
            Some(n) => n.duration_ms()?,
            None => aivm_core::chain::DEFAULT_BLOCK_TIME_MS,
        };
        let proposer = match o.opt("proposer") {
            Some(n) => self.actor(&n)?,
            None => self.name_addr("proposer"),
        };
        let mut steps = Vec::new();
        for b in o.req("blocks")?.arr(MAX_BLOCK_ENTRIES)? {
            steps.push(self.step(&b)?);
        }
        o.finish()?;
        Ok(Scenario {
            name,
            description,
            genesis,
            block_time_ms,
            proposer,
            names: self.names,
            texts: self.texts,
            genesis_labels: self.genesis_labels,
            steps,
        })
    }

    // ---- names, labels, references -------------------------------------------------------

    fn name_addr(&mut self, name: &str) -> Address {
        let addr = address_from_name(name);
        self.names.entry(addr).or_insert_with(|| name.to_string());
        addr
    }

    fn check_name(at: &At, what: &str) -> Result<String, ScenarioError> {
        check_name_str(&at.path, at.str()?, what)
    }

    /// A named actor; its key (and so its address) derives from the name.
    fn actor(&mut self, at: &At) -> Result<Address, ScenarioError> {
        let name = Self::check_name(at, "an actor name")?;
        Ok(self.name_addr(&name))
    }

    fn actor_name(&mut self, at: &At) -> Result<String, ScenarioError> {
        let name = Self::check_name(at, "an actor name")?;
        self.name_addr(&name);
        Ok(name)
    }

    /// A name or a raw `0x` address.
    fn address(&mut self, at: &At) -> Result<Address, ScenarioError> {
        self.address_str(&at.path, at.str()?)
    }

    fn address_str(&mut self, path: &str, s: &str) -> Result<Address, ScenarioError> {
        if s.starts_with("0x") {
            return raw32(path, s).map(Address);
        }
        let name = check_name_str(path, s, "an actor name")?;
        Ok(self.name_addr(&name))
    }

    fn hash(&mut self, at: &At) -> Result<Hash, ScenarioError> {
        let (h, text) = at.hash()?;
        if let Some(t) = text {
            self.texts.entry(h).or_insert(t);
        }
        Ok(h)
    }

    fn define_label(
        &mut self,
        path: &str,
        label: &str,
        kind: LabelKind,
    ) -> Result<String, ScenarioError> {
        let label = check_name_str(path, label, "a label")?;
        if self.labels.insert(label.clone(), kind).is_some() {
            return Err(invalid(path, format!("label {label:?} is already defined")));
        }
        Ok(label)
    }

    /// `NAME#N`, split.
    fn derived(&mut self, path: &str, s: &str) -> Result<Option<(Address, u64)>, ScenarioError> {
        let Some((name, nonce)) = s.rsplit_once('#') else {
            return Ok(None);
        };
        let nonce: u64 = nonce.parse().map_err(|_| {
            invalid(
                path,
                format!("{s:?}: expected NAME#NONCE with a decimal nonce"),
            )
        })?;
        let name = check_name_str(path, name, "the name in NAME#NONCE")?;
        Ok(Some((self.name_addr(&name), nonce)))
    }

    fn label_ref(&self, path: &str, s: &str, kind: LabelKind) -> Result<String, ScenarioError> {
        let want = kind.name();
        match self.labels.get(s) {
            Some(k) if *k == kind => Ok(s.to_string()),
            Some(k) => Err(invalid(path, format!("label {s:?} names a {}, not a {want}", k.name()))),
            None => Err(invalid(
                path,
                format!("unknown {want} label {s:?} (define it earlier with \"label\", or write NAME#NONCE or 0x and 64 hex digits)"),
            )),
        }
    }

    fn task_ref(&mut self, at: &At) -> Result<TaskRef, ScenarioError> {
        self.task_ref_str(&at.path, at.str()?)
    }

    fn task_ref_str(&mut self, path: &str, s: &str) -> Result<TaskRef, ScenarioError> {
        if s.starts_with("0x") {
            return raw32(path, s).map(|b| TaskRef::Raw(TaskId(b)));
        }
        if let Some((addr, n)) = self.derived(path, s)? {
            return Ok(TaskRef::Derived(addr, n));
        }
        self.label_ref(path, s, LabelKind::Task).map(TaskRef::Label)
    }

    fn provider_ref(&mut self, at: &At) -> Result<ProviderRef, ScenarioError> {
        self.provider_ref_str(&at.path, at.str()?)
    }

    fn provider_ref_str(&mut self, path: &str, s: &str) -> Result<ProviderRef, ScenarioError> {
        if s.starts_with("0x") {
            return raw32(path, s).map(|b| ProviderRef::Raw(ProviderId(b)));
        }
        if let Some((addr, n)) = self.derived(path, s)? {
            return Ok(ProviderRef::Derived(addr, n));
        }
        self.label_ref(path, s, LabelKind::Provider)
            .map(ProviderRef::Label)
    }

    // ---- genesis --------------------------------------------------------------------------

    fn genesis_defaults(&mut self) -> Genesis {
        Genesis::new("aivm-scenario", Vec::new())
    }

    fn genesis(&mut self, at: &At) -> Result<Genesis, ScenarioError> {
        let mut o = at.obj()?;
        let mut g = self.genesis_defaults();
        if let Some(n) = o.opt("chain_id") {
            g.chain_id = n.text(MAX_NAME)?;
        }
        if let Some(n) = o.opt("time_ms") {
            g.time_ms = n.u64()?;
        }
        if let Some(n) = o.opt("config") {
            n.obj()?;
            g.config = serde_json::from_value::<Config>(n.v.clone())
                .map_err(|e| invalid(&n.path, e.to_string()))?;
        }
        if let Some(n) = o.opt("attestors") {
            for a in n.arr(MAX_LIST)? {
                let key = self.actor(&a)?.0;
                if !g.config.trusted_attestors.contains(&key) {
                    g.config.trusted_attestors.push(key);
                }
            }
        }
        if let Some(n) = o.opt("balances") {
            for (name, v) in n.entries(MAX_LIST)? {
                let addr = self.address_str(&v.path, name)?;
                g.balances.push((addr, v.amount()?));
            }
        }
        if let Some(n) = o.opt("models") {
            let mut models = Vec::new();
            for m in n.arr(MAX_LIST)? {
                models.push(self.genesis_model(&m)?);
            }
            g.models = Some(models);
        }
        if let Some(n) = o.opt("providers") {
            for (i, p) in n.arr(MAX_LIST)?.iter().enumerate() {
                g.providers.push(self.genesis_provider(p, i as u64)?);
            }
        }
        if let Some(n) = o.opt("governance") {
            g.governance = Some(self.address(&n)?);
        }
        o.finish()?;
        State::genesis(&g).map_err(|e| invalid(&at.path, e.to_string()))?;
        Ok(g)
    }

    fn genesis_model(&mut self, at: &At) -> Result<Model, ScenarioError> {
        let mut o = at.obj()?;
        let id = o.req("id")?.text(MAX_TEXT)?;
        let weights_hash = match o.opt("weights") {
            Some(n) => self.hash(&n)?,
            None => default_weights(&id),
        };
        let task_types = match o.opt("task_types") {
            Some(n) => task_types(&n)?,
            None => TaskType::ALL.to_vec(),
        };
        let context_length = match o.opt("context_length") {
            Some(n) => n.u32()?,
            None => 8192,
        };
        let owner = match o.opt("owner") {
            Some(n) => Some(self.address(&n)?),
            None => None,
        };
        let deposit = match o.opt("deposit") {
            Some(n) => n.amount()?,
            None => 0,
        };
        let retired = match o.opt("retired") {
            Some(n) => n.bool()?,
            None => false,
        };
        o.finish()?;
        Ok(Model {
            id,
            weights_hash,
            task_types,
            context_length,
            owner,
            deposit,
            retired,
        })
    }

    fn genesis_provider(&mut self, at: &At, index: u64) -> Result<GenesisProvider, ScenarioError> {
        let mut o = at.obj()?;
        let owner_name = self.actor_name(&o.req("owner")?)?;
        let owner = address_from_name(&owner_name);
        let label = match o.opt("label") {
            Some(n) => self.define_label(&n.path, n.str()?, LabelKind::Provider)?,
            None => self.define_label(
                &format!("{}.label", at.path),
                &format!("gp{index}"),
                LabelKind::Provider,
            )?,
        };
        let endpoint = match o.opt("endpoint") {
            Some(n) => n.text(MAX_TEXT)?,
            None => format!("https://{owner_name}.example"),
        };
        let gpus = match o.opt("gpus") {
            Some(n) => gpus(&n)?,
            None => default_gpus(),
        };
        let models = model_list(&o.req("models")?)?;
        let bond = o.req("bond")?.amount()?;
        o.finish()?;
        self.genesis_labels
            .push((label, ProviderId::genesis(&owner, index)));
        Ok(GenesisProvider {
            owner,
            endpoint,
            gpus,
            models,
            bond,
        })
    }

    // ---- blocks ---------------------------------------------------------------------------

    fn step(&mut self, at: &At) -> Result<Step, ScenarioError> {
        let mut o = at.obj()?;
        if let Some(note) = o.opt("note") {
            note.text(MAX_TEXT)?;
        }
        if let Some(n) = o.opt("advance") {
            let count = n.u64()?;
            if count == 0 {
                return Err(invalid(&n.path, "advance must be at least 1"));
            }
            self.advance_total = self.advance_total.saturating_add(count);
            if self.advance_total > MAX_ADVANCE_TOTAL {
                return Err(invalid(
                    &n.path,
                    format!(
                        "advance adds up to more than {MAX_ADVANCE_TOTAL} blocks in this scenario"
                    ),
                ));
            }
            let expect = match o.opt("expect") {
                Some(e) => Some(self.checks(&e)?),
                None => None,
            };
            if o.has("txs") {
                return Err(invalid(
                    &o.path,
                    "a block entry has either `advance` or `txs`, not both",
                ));
            }
            o.finish()?;
            return Ok(Step::Advance {
                path: at.path.clone(),
                n: count,
                expect,
            });
        }
        let mut txs = Vec::new();
        if let Some(list) = o.opt("txs") {
            let list = list.arr(MAX_TXS_PER_BLOCK)?;
            self.txs_total = self.txs_total.saturating_add(list.len());
            if self.txs_total > MAX_TXS_TOTAL {
                return Err(invalid(
                    &at.path,
                    format!("more than {MAX_TXS_TOTAL} transactions in this scenario"),
                ));
            }
            for t in &list {
                txs.push(self.tx(t)?);
            }
        }
        let time_ms = o.opt("time_ms").map(|n| n.u64()).transpose()?;
        let seed = o.opt("seed").map(|n| self.hash(&n)).transpose()?;
        let proposer = o.opt("proposer").map(|n| self.address(&n)).transpose()?;
        let expect = o.opt("expect").map(|e| self.checks(&e)).transpose()?;
        o.finish()?;
        Ok(Step::Block(BlockSpec {
            path: at.path.clone(),
            txs,
            time_ms,
            seed,
            proposer,
            expect,
        }))
    }

    fn tx(&mut self, at: &At) -> Result<TxSpec, ScenarioError> {
        let mut o = at.obj()?;
        let from = self.actor_name(&o.req("from")?)?;
        let kind_at = o.req("action")?;
        let kind = kind_at.str()?;
        let action = self.action(&mut o, &kind_at, kind)?;
        let label = match o.opt("label") {
            Some(n) => {
                let k = match kind {
                    "submit_task" => LabelKind::Task,
                    "register_provider" => LabelKind::Provider,
                    _ => {
                        return Err(invalid(
                            &n.path,
                            "only submit_task and register_provider take a label",
                        ))
                    }
                };
                Some(self.define_label(&n.path, n.str()?, k)?)
            }
            None => None,
        };
        if let Some(note) = o.opt("note") {
            note.text(MAX_TEXT)?;
        }
        let nonce = o.opt("nonce").map(|n| n.u64()).transpose()?;
        let chain_id = o.opt("chain_id").map(|n| n.text(MAX_NAME)).transpose()?;
        let sign_as = o.opt("sign_as").map(|n| self.actor_name(&n)).transpose()?;
        let corrupt_signature = o
            .opt("corrupt_signature")
            .map(|n| n.bool())
            .transpose()?
            .unwrap_or(false);
        let malformed_signer = o
            .opt("malformed_signer")
            .map(|n| n.bool())
            .transpose()?
            .unwrap_or(false);
        let expect = o.opt("expect").map(|n| receipt_expect(&n)).transpose()?;
        o.finish()?;
        Ok(TxSpec {
            path: at.path.clone(),
            from,
            action,
            label,
            nonce,
            chain_id,
            sign_as,
            corrupt_signature,
            malformed_signer,
            expect,
        })
    }

    fn action(
        &mut self,
        o: &mut super::json::Obj,
        kind_at: &At,
        kind: &str,
    ) -> Result<ActionSpec, ScenarioError> {
        Ok(match kind {
            "transfer" => ActionSpec::Transfer {
                to: self.address(&o.req("to")?)?,
                amount: o.req("amount")?.amount()?,
            },
            "register_model" => {
                let id = o.req("id")?.text(MAX_TEXT)?;
                ActionSpec::RegisterModel {
                    weights: match o.opt("weights") {
                        Some(n) => self.hash(&n)?,
                        None => default_weights(&id),
                    },
                    task_types: match o.opt("task_types") {
                        Some(n) => task_types(&n)?,
                        None => TaskType::ALL.to_vec(),
                    },
                    context_length: o.opt("context_length").map(|n| n.u32()).transpose()?.unwrap_or(8192),
                    id,
                }
            }
            "retire_model" => ActionSpec::RetireModel {
                id: o.req("id")?.text(MAX_TEXT)?,
            },
            "register_provider" => ActionSpec::RegisterProvider {
                endpoint: match o.opt("endpoint") {
                    Some(n) => n.text(MAX_TEXT)?,
                    None => "https://provider.example".to_string(),
                },
                gpus: o.opt("gpus").map(|n| gpus(&n)).transpose()?.unwrap_or_else(default_gpus),
                models: model_list(&o.req("models")?)?,
                bond: o.req("bond")?.amount()?,
                attestation: o.opt("attestation").map(|n| self.attestation(&n)).transpose()?,
            },
            "top_up_bond" => ActionSpec::TopUpBond {
                provider: self.provider_ref(&o.req("provider")?)?,
                amount: o.req("amount")?.amount()?,
            },
            "unbond" => ActionSpec::Unbond {
                provider: self.provider_ref(&o.req("provider")?)?,
            },
            "withdraw_bond" => ActionSpec::WithdrawBond {
                provider: self.provider_ref(&o.req("provider")?)?,
            },
            "claim_rewards" => ActionSpec::ClaimRewards {
                provider: self.provider_ref(&o.req("provider")?)?,
            },
            "attest" => ActionSpec::Attest {
                provider: self.provider_ref(&o.req("provider")?)?,
                attestation: self.attestation(&o.req("attestation")?)?,
            },
            "submit_task" => ActionSpec::SubmitTask {
                model: o.req("model")?.text(MAX_TEXT)?,
                task_type: match o.opt("task_type") {
                    Some(n) => task_type(&n)?,
                    None => TaskType::Inference,
                },
                input: match o.opt("input") {
                    Some(n) => self.hash(&n)?,
                    None => super::json::text_hash("input"),
                },
                inline_input: payload(o.opt("inline_input"))?,
                fee: o.req("fee")?.amount()?,
                redundancy: o.opt("redundancy").map(|n| redundancy(&n)).transpose()?,
            },
            "submit_result" => {
                let task = self.task_ref(&o.req("task")?)?;
                ActionSpec::SubmitResult {
                    provider: match o.opt("provider") {
                        Some(n) => self.provider_ref(&n)?,
                        None => ProviderRef::AssignedTo(task.clone()),
                    },
                    task,
                    output: self.hash(&o.req("output")?)?,
                    inline_output: payload(o.opt("inline_output"))?,
                    compute_time_ms: o.opt("compute_time_ms").map(|n| n.u64()).transpose()?.unwrap_or(1000),
                }
            }
            "challenge" => ActionSpec::Challenge {
                task: self.task_ref(&o.req("task")?)?,
                claim: self.commitment(o, "claim")?,
            },
            "reveal_claim" => ActionSpec::RevealClaim {
                task: self.task_ref(&o.req("task")?)?,
                output: self.hash(&o.req("output")?)?,
                salt: self.hash(&o.req("salt")?)?,
            },
            "commit_output" => ActionSpec::CommitOutput {
                task: self.task_ref(&o.req("task")?)?,
                provider: self.provider_ref(&o.req("provider")?)?,
                commitment: self.commitment(o, "commitment")?,
            },
            "reveal_output" => ActionSpec::RevealOutput {
                task: self.task_ref(&o.req("task")?)?,
                provider: self.provider_ref(&o.req("provider")?)?,
                output: self.hash(&o.req("output")?)?,
                salt: self.hash(&o.req("salt")?)?,
            },
            other => {
                return Err(invalid(
                    &kind_at.path,
                    format!(
                        "unknown action {:?} (one of: transfer, register_model, retire_model, register_provider, top_up_bond, unbond, withdraw_bond, attest, submit_task, submit_result, challenge, reveal_claim, commit_output, reveal_output, claim_rewards)",
                        other.chars().take(40).collect::<String>()
                    ),
                ))
            }
        })
    }

    /// `raw_key` as a raw 32-byte value, or `output` + `salt` to commit to.
    fn commitment(
        &mut self,
        o: &mut super::json::Obj,
        raw_key: &'static str,
    ) -> Result<CommitSpec, ScenarioError> {
        if let Some(n) = o.opt(raw_key) {
            if o.has("output") || o.has("salt") {
                return Err(invalid(
                    &n.path,
                    format!("give either `{raw_key}` or `output` and `salt`, not both"),
                ));
            }
            return Ok(CommitSpec::Raw(self.hash(&n)?));
        }
        let output = o.req("output").map_err(|_| {
            invalid(
                &o.path,
                format!("missing field `output` (with `salt`), or a raw `{raw_key}`"),
            )
        })?;
        Ok(CommitSpec::Open {
            output: self.hash(&output)?,
            salt: self.hash(&o.req("salt")?)?,
        })
    }

    fn attestation(&mut self, at: &At) -> Result<AttestationSpec, ScenarioError> {
        let mut o = at.obj()?;
        let flag = |o: &mut super::json::Obj,
                    k: &'static str,
                    default: bool|
         -> Result<bool, ScenarioError> {
            o.opt(k)
                .map(|n| n.bool())
                .transpose()
                .map(|b| b.unwrap_or(default))
        };
        let attestor = self.actor_name(&o.req("attestor")?)?;
        let tee_type = match o.opt("tee_type") {
            Some(n) => tee_type(&n)?,
            None => TeeType::Nvidia,
        };
        let kind = match o.opt("kind") {
            Some(n) => evidence_kind(&n)?,
            None => EvidenceKind::GpuLocal,
        };
        let device_model = match o.opt("device_model") {
            Some(n) => n.text(MAX_TEXT)?,
            None => "NVIDIA H100".to_string(),
        };
        let measurement = match o.opt("measurement") {
            Some(n) => self.hash(&n)?,
            None => super::json::text_hash("measurement"),
        };
        let spec = AttestationSpec {
            attestor,
            tee_type,
            kind,
            device_model,
            measurement,
            cc_enabled: flag(&mut o, "cc_enabled", true)?,
            tee_io: flag(&mut o, "tee_io", false)?,
            rim_verified: flag(&mut o, "rim_verified", true)?,
            benchmark_ok: flag(&mut o, "benchmark_ok", false)?,
            driver_ok: flag(&mut o, "driver_ok", false)?,
            issued_at_ms: o.opt("issued_at_ms").map(|n| n.u64()).transpose()?,
            expires_at_ms: o.opt("expires_at_ms").map(|n| n.u64()).transpose()?,
            provider_key: o
                .opt("provider_key")
                .map(|n| self.address(&n))
                .transpose()?,
            signed_by: o
                .opt("signed_by")
                .map(|n| self.actor_name(&n))
                .transpose()?,
        };
        o.finish()?;
        Ok(spec)
    }

    // ---- checks ---------------------------------------------------------------------------

    fn checks(&mut self, at: &At) -> Result<Checks, ScenarioError> {
        let mut o = at.obj()?;
        let mut c = Checks {
            path: at.path.clone(),
            ..Checks::default()
        };
        if let Some(n) = o.opt("balances") {
            for (name, v) in n.entries(MAX_LIST)? {
                let addr = self.address_str(&v.path, name)?;
                c.balances.push((name.to_string(), addr, v.amount()?));
            }
        }
        if let Some(n) = o.opt("nonces") {
            for (name, v) in n.entries(MAX_LIST)? {
                let addr = self.address_str(&v.path, name)?;
                c.nonces.push((name.to_string(), addr, v.u64()?));
            }
        }
        if let Some(n) = o.opt("tasks") {
            for (name, v) in n.entries(MAX_LIST)? {
                let r = self.task_ref_str(&v.path, name)?;
                c.tasks.push((name.to_string(), r, self.task_check(&v)?));
            }
        }
        if let Some(n) = o.opt("providers") {
            for (name, v) in n.entries(MAX_LIST)? {
                let r = self.provider_ref_str(&v.path, name)?;
                c.providers
                    .push((name.to_string(), r, self.provider_check(&v)?));
            }
        }
        if let Some(n) = o.opt("models") {
            for (name, v) in n.entries(MAX_LIST)? {
                let state = match v.str()? {
                    "active" => ModelState::Active,
                    "retired" => ModelState::Retired,
                    "absent" => ModelState::Absent,
                    _ => {
                        return Err(invalid(
                            &v.path,
                            "expected \"active\", \"retired\" or \"absent\"",
                        ))
                    }
                };
                c.models.push((name.to_string(), state));
            }
        }
        if let Some(n) = o.opt("stats") {
            for (name, v) in n.entries(MAX_LIST)? {
                let Some(field) = STAT_FIELDS.iter().find(|f| **f == name) else {
                    return Err(invalid(
                        &v.path,
                        format!("unknown stat (one of: {})", STAT_FIELDS.join(", ")),
                    ));
                };
                c.stats.push((field.to_string(), v.amount()?));
            }
        }
        if let Some(n) = o.opt("events") {
            c.events = event_kinds(&n)?;
        }
        if let Some(n) = o.opt("no_events") {
            c.no_events = event_kinds(&n)?;
        }
        if let Some(n) = o.opt("state_root") {
            match n.hash()? {
                (h, None) => c.state_root = Some(h),
                (_, Some(_)) => return Err(invalid(&n.path, "expected 0x and 64 hex digits")),
            }
        }
        o.finish()?;
        Ok(c)
    }

    fn task_check(&mut self, at: &At) -> Result<TaskCheck, ScenarioError> {
        if at.v.is_string() {
            return Ok(TaskCheck {
                status: Some(task_status(at)?),
                ..TaskCheck::default()
            });
        }
        let mut o = at.obj()?;
        let c = TaskCheck {
            status: o.opt("status").map(|n| task_status(&n)).transpose()?,
            provider: o
                .opt("provider")
                .map(|n| self.provider_ref(&n))
                .transpose()?,
            requeues: o.opt("requeues").map(|n| n.u32()).transpose()?,
            fee: o.opt("fee").map(|n| n.amount()).transpose()?,
            output: o.opt("output").map(|n| self.hash(&n)).transpose()?,
        };
        o.finish()?;
        Ok(c)
    }

    fn provider_check(&mut self, at: &At) -> Result<ProviderCheck, ScenarioError> {
        if at.v.is_string() {
            return Ok(ProviderCheck {
                status: Some(provider_status(at)?),
                ..ProviderCheck::default()
            });
        }
        let mut o = at.obj()?;
        let amount =
            |o: &mut super::json::Obj, k: &'static str| o.opt(k).map(|n| n.amount()).transpose();
        let c = ProviderCheck {
            status: o.opt("status").map(|n| provider_status(&n)).transpose()?,
            bond: amount(&mut o, "bond")?,
            locked: amount(&mut o, "locked")?,
            open_tasks: o.opt("open_tasks").map(|n| n.u32()).transpose()?,
            trust: o.opt("trust").map(|n| n.u32()).transpose()?,
            trust_score: o.opt("trust_score").map(|n| n.u8()).transpose()?,
            pending_rewards: amount(&mut o, "pending_rewards")?,
            total_rewards: amount(&mut o, "total_rewards")?,
            slashed: amount(&mut o, "slashed")?,
            tasks_completed: o.opt("tasks_completed").map(|n| n.u64()).transpose()?,
            tasks_missed: o.opt("tasks_missed").map(|n| n.u64()).transpose()?,
        };
        o.finish()?;
        Ok(c)
    }
}

fn check_name_str(path: &str, s: &str, what: &str) -> Result<String, ScenarioError> {
    if s.is_empty() || s.len() > MAX_NAME {
        return Err(invalid(
            path,
            format!("{what} must be 1 to {MAX_NAME} bytes"),
        ));
    }
    if s.contains('#') || s.starts_with("0x") || s.chars().any(char::is_control) {
        return Err(invalid(
            path,
            format!("{what} {s:?} may not contain '#' or control characters, nor start with 0x"),
        ));
    }
    Ok(s.to_string())
}

fn raw32(path: &str, s: &str) -> Result<[u8; 32], ScenarioError> {
    parse_hex::<32>(s).ok_or_else(|| invalid(path, "0x must be followed by exactly 64 hex digits"))
}

pub(crate) fn default_weights(model: &str) -> Hash {
    blake3::derive_key("aivm scenario model weights", model.as_bytes())
}

fn default_gpus() -> Vec<GpuInfo> {
    vec![GpuInfo {
        model: "NVIDIA H100".to_string(),
        memory_gb: 80,
        count: 1,
    }]
}

fn gpus(at: &At) -> Result<Vec<GpuInfo>, ScenarioError> {
    let mut out = Vec::new();
    for g in at.arr(MAX_LIST)? {
        if g.v.is_string() {
            out.push(GpuInfo {
                model: g.text(MAX_TEXT)?,
                memory_gb: 80,
                count: 1,
            });
            continue;
        }
        let mut o = g.obj()?;
        out.push(GpuInfo {
            model: o.req("model")?.text(MAX_TEXT)?,
            memory_gb: o
                .opt("memory_gb")
                .map(|n| n.u32())
                .transpose()?
                .unwrap_or(80),
            count: o.opt("count").map(|n| n.u32()).transpose()?.unwrap_or(1),
        });
        o.finish()?;
    }
    Ok(out)
}

fn model_list(at: &At) -> Result<Vec<String>, ScenarioError> {
    at.arr(MAX_LIST)?.iter().map(|m| m.text(MAX_TEXT)).collect()
}

fn task_type(at: &At) -> Result<TaskType, ScenarioError> {
    match at.str()? {
        "inference" => Ok(TaskType::Inference),
        "training" => Ok(TaskType::Training),
        "embedding" => Ok(TaskType::Embedding),
        "mining" => Ok(TaskType::Mining),
        _ => Err(invalid(
            &at.path,
            "expected \"inference\", \"training\", \"embedding\" or \"mining\"",
        )),
    }
}

fn task_types(at: &At) -> Result<Vec<TaskType>, ScenarioError> {
    at.arr(16)?.iter().map(task_type).collect()
}

fn tee_type(at: &At) -> Result<TeeType, ScenarioError> {
    match at.str()? {
        "sgx" => Ok(TeeType::Sgx),
        "sev_snp" => Ok(TeeType::SevSnp),
        "tdx" => Ok(TeeType::Tdx),
        "nvidia" => Ok(TeeType::Nvidia),
        "arm" => Ok(TeeType::Arm),
        _ => Err(invalid(
            &at.path,
            "expected \"sgx\", \"sev_snp\", \"tdx\", \"nvidia\" or \"arm\"",
        )),
    }
}

fn evidence_kind(at: &At) -> Result<EvidenceKind, ScenarioError> {
    match at.str()? {
        "gpu_local" => Ok(EvidenceKind::GpuLocal),
        "software_only" => Ok(EvidenceKind::SoftwareOnly),
        _ => Err(invalid(
            &at.path,
            "expected \"gpu_local\" or \"software_only\"",
        )),
    }
}

fn redundancy(at: &At) -> Result<Redundancy, ScenarioError> {
    let mut o = at.obj()?;
    let r = Redundancy {
        m: o.req("m")?.u32()?,
        n: o.req("n")?.u32()?,
    };
    o.finish()?;
    Ok(r)
}

/// Inline bytes: a UTF-8 string taken as its bytes, or `0x` hex.
fn payload(at: Option<At>) -> Result<Vec<u8>, ScenarioError> {
    let Some(at) = at else { return Ok(Vec::new()) };
    let s = at.text(MAX_PAYLOAD.saturating_mul(2).saturating_add(2))?;
    if let Some(hex) = s.strip_prefix("0x") {
        return decode_hex(hex).ok_or_else(|| {
            invalid(
                &at.path,
                "0x must be followed by an even number of hex digits",
            )
        });
    }
    if s.len() > MAX_PAYLOAD {
        return Err(invalid(
            &at.path,
            format!("payload longer than {MAX_PAYLOAD} bytes"),
        ));
    }
    Ok(s.into_bytes())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|c| {
            let hi = (*c.first()? as char).to_digit(16)?;
            let lo = (*c.get(1)? as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

fn task_status(at: &At) -> Result<String, ScenarioError> {
    let s = at.str()?;
    if TASK_STATUSES.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(invalid(
            &at.path,
            format!("unknown task status (one of: {})", TASK_STATUSES.join(", ")),
        ))
    }
}

fn provider_status(at: &At) -> Result<String, ScenarioError> {
    match at.str()? {
        s @ ("active" | "unbonding" | "absent") => Ok(s.to_string()),
        _ => Err(invalid(
            &at.path,
            "expected \"active\", \"unbonding\" or \"absent\"",
        )),
    }
}

/// An error kind: a variant name, optionally with nested variants (`Auth.BadSignature`).
fn error_kind(at: &At) -> Result<String, ScenarioError> {
    let s = at.str()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err(invalid(
            &at.path,
            format!(
                "expected an error kind such as \"NotAssigned\" or \"Auth.BadSignature\", found {}",
                kind_of(at.v)
            ),
        ))
    }
}

fn receipt_expect(at: &At) -> Result<ReceiptExpect, ScenarioError> {
    if let Some(s) = at.v.as_str() {
        return match s {
            "applied" => Ok(ReceiptExpect::Applied),
            "failed" => Ok(ReceiptExpect::Failed(None)),
            "rejected" => Ok(ReceiptExpect::Rejected(None)),
            _ => Err(invalid(
                &at.path,
                "expected \"applied\", \"failed\", \"rejected\", {\"failed\": KIND} or {\"rejected\": KIND}",
            )),
        };
    }
    let mut o = at.obj()?;
    let r = if let Some(n) = o.opt("failed") {
        ReceiptExpect::Failed(Some(error_kind(&n)?))
    } else if let Some(n) = o.opt("rejected") {
        ReceiptExpect::Rejected(Some(error_kind(&n)?))
    } else {
        return Err(invalid(
            &at.path,
            "expected {\"failed\": KIND} or {\"rejected\": KIND}",
        ));
    };
    o.finish()?;
    Ok(r)
}

fn event_kinds(at: &At) -> Result<Vec<String>, ScenarioError> {
    at.arr(MAX_LIST)?
        .iter()
        .map(|e| {
            let s = e.str()?;
            if !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(s.to_string())
            } else {
                Err(invalid(
                    &e.path,
                    "expected an event kind such as \"TaskFinalized\"",
                ))
            }
        })
        .collect()
}
