//! Running a scenario: builds each block from its spec against the current
//! state (nonces, labels, assigned providers), applies it with
//! `aivm_core::chain::Chain` (which checks the invariants after every tx in
//! debug builds), and records receipts, roots and check results.

use std::collections::BTreeMap;

use aivm_core::attestation::{
    public_key_from_seed, sign_attestation, AttestationEvidence, SignedAttestation,
};
use aivm_core::chain::Chain;
use aivm_core::dispute::{claim_commitment, output_commitment};
use aivm_core::tx::{address_from_name, key_from_name};
use aivm_core::types::{hex, Address, Hash, ProviderId, TaskId};
use aivm_core::{Action, Block, BlockOutcome, SignedTx, TxBody, TxStatus};

use super::checks::event_kinds;
use super::render::{kind_path, Names};
use super::spec::*;
use super::{BlockReport, CheckReport, Scenario, ScenarioError, ScenarioReport, TxReport};

/// Default lifetime of a scenario attestation: one day.
const ATTESTATION_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;

pub(crate) struct Exec<'s> {
    s: &'s Scenario,
    pub chain: Chain,
    /// Label -> the id it names (tasks and providers share one namespace).
    labels: BTreeMap<String, [u8; 32]>,
    pub(super) names: Names,
    pub blocks: Vec<BlockReport>,
    pub checks: Vec<CheckReport>,
}

/// A signed tx and the actor name that sent it (for the report).
struct Built {
    from: String,
    tx: SignedTx,
}

/// Where the next block comes from in the scenario, and its header overrides.
struct Plan<'p> {
    /// JSON path of the entry, for errors.
    path: &'p str,
    /// Where the block comes from, for the report.
    source: String,
    time_ms: u64,
    seed: Option<Hash>,
    proposer: Option<Address>,
}

impl<'s> Exec<'s> {
    pub fn new(s: &'s Scenario) -> Result<Self, ScenarioError> {
        let mut chain = Chain::new(s.genesis.clone()).map_err(|e| ScenarioError::Invalid {
            path: "genesis".into(),
            message: e.to_string(),
        })?;
        chain.proposer = s.proposer;
        let mut names = Names::default();
        for (addr, name) in &s.names {
            names.insert(addr.0, name.clone());
        }
        for (h, text) in &s.texts {
            names.insert(*h, text.clone());
        }
        let mut labels = BTreeMap::new();
        for (label, id) in &s.genesis_labels {
            labels.insert(label.clone(), id.0);
            names.insert(id.0, label.clone());
        }
        Ok(Exec {
            s,
            chain,
            labels,
            names,
            blocks: Vec::new(),
            checks: Vec::new(),
        })
    }

    pub fn run(mut self) -> Result<Self, ScenarioError> {
        for step in &self.s.steps {
            match step {
                Step::Block(b) => self.block(b)?,
                Step::Advance { path, n, expect } => self.advance(path, *n, expect.as_ref())?,
            }
        }
        Ok(self)
    }

    pub fn report(&self) -> ScenarioReport {
        let state = &self.chain.state;
        ScenarioReport {
            name: self.s.name.clone(),
            description: self.s.description.clone(),
            chain_id: state.chain_id().to_string(),
            genesis_hash: hex(&self.chain.genesis.hash()),
            final_height: state.height(),
            final_state_root: hex(&state.state_root()),
            blocks: self.blocks.clone(),
            checks: self.checks.clone(),
        }
    }

    // ---- blocks ---------------------------------------------------------------------------

    fn next_time(&self, path: &str) -> Result<u64, ScenarioError> {
        let tip = self.chain.state.tip();
        tip.time_ms
            .max(self.chain.genesis.time_ms)
            .checked_add(self.s.block_time_ms)
            .ok_or_else(|| ScenarioError::Build {
                path: path.to_string(),
                height: tip.height.saturating_add(1),
                message: "block time overflows u64".into(),
            })
    }

    fn block(&mut self, b: &BlockSpec) -> Result<(), ScenarioError> {
        let time_ms = match b.time_ms {
            Some(t) => t,
            None => self.next_time(&b.path)?,
        };
        let mut pending = BTreeMap::new();
        let mut built = Vec::with_capacity(b.txs.len());
        for t in &b.txs {
            built.push(self.build_tx(t, &mut pending, time_ms)?);
        }
        let plan = Plan {
            path: &b.path,
            source: b.path.clone(),
            time_ms,
            seed: b.seed,
            proposer: b.proposer,
        };
        let outcome = self.apply(plan, built)?;
        for (t, r) in b.txs.iter().zip(&outcome.receipts) {
            if let Some(e) = &t.expect {
                self.check_receipt(outcome.height, t, r, e);
            }
        }
        if let Some(c) = &b.expect {
            let kinds = event_kinds(std::slice::from_ref(&outcome));
            self.run_checks(c, &outcome, &kinds);
        }
        Ok(())
    }

    fn advance(
        &mut self,
        path: &str,
        n: u64,
        expect: Option<&Checks>,
    ) -> Result<(), ScenarioError> {
        let mut outcomes = Vec::new();
        for i in 0..n {
            let plan = Plan {
                path,
                source: format!("{path}, advance {} of {n}", i + 1),
                time_ms: self.next_time(path)?,
                seed: None,
                proposer: None,
            };
            let o = self.apply(plan, Vec::new())?;
            if expect.is_some() {
                outcomes.push(o);
            }
        }
        if let (Some(c), Some(last)) = (expect, outcomes.last()) {
            let kinds = event_kinds(&outcomes);
            self.run_checks(c, last, &kinds);
        }
        Ok(())
    }

    /// Builds the next block around `built`, applies it and records its report.
    fn apply(&mut self, plan: Plan, built: Vec<Built>) -> Result<BlockOutcome, ScenarioError> {
        let tip = self.chain.state.tip().clone();
        let height = tip.height.saturating_add(1);
        let senders: Vec<(String, &'static str)> = built
            .iter()
            .map(|b| (b.from.clone(), b.tx.body.action.kind()))
            .collect();
        let block = Block::new(
            self.chain.state.chain_id(),
            height,
            tip.block_id,
            plan.time_ms,
            plan.proposer.unwrap_or(self.chain.proposer),
            plan.seed.unwrap_or_else(|| Chain::seed_for(height)),
            built.into_iter().map(|b| b.tx).collect(),
        );
        let outcome = self
            .chain
            .apply(block)
            .map_err(|e| ScenarioError::Build {
                path: plan.path.to_string(),
                height,
                message: e.to_string(),
            })?
            .clone();
        let report = self.block_report(&outcome, plan.time_ms, plan.source, &senders);
        self.blocks.push(report);
        Ok(outcome)
    }

    fn block_report(
        &self,
        o: &BlockOutcome,
        time_ms: u64,
        source: String,
        senders: &[(String, &str)],
    ) -> BlockReport {
        let txs = o
            .receipts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let (from, action) = senders.get(i).cloned().unwrap_or_default();
                TxReport {
                    index: i as u64,
                    from,
                    action: action.to_string(),
                    hash: hex(&r.tx),
                    status: self.status_text(&r.status),
                    error_kind: status_kind(&r.status),
                    fee: r.fee.to_string(),
                    events: r.events.iter().map(|e| self.names.debug(e)).collect(),
                }
            })
            .collect();
        BlockReport {
            height: o.height,
            block_id: hex(&o.block_id),
            time_ms,
            source,
            txs,
            end_events: o.end_events.iter().map(|e| self.names.debug(e)).collect(),
            state_root: hex(&o.state_root),
            results_root: hex(&o.results_root),
            anchored: o.anchor.is_some(),
        }
    }

    fn status_text(&self, s: &TxStatus) -> String {
        match s {
            TxStatus::Applied => "applied".into(),
            TxStatus::Failed(e) => format!("failed: {} ({e})", self.names.debug(e)),
            TxStatus::Rejected(e) => format!("rejected: {} ({e})", self.names.debug(e)),
        }
    }

    // ---- transactions ---------------------------------------------------------------------

    fn build_tx(
        &mut self,
        t: &TxSpec,
        pending: &mut BTreeMap<Address, u64>,
        time_ms: u64,
    ) -> Result<Built, ScenarioError> {
        let from = address_from_name(&t.from);
        let nonce = match t.nonce {
            Some(n) => n,
            None => {
                let count = pending.entry(from).or_insert(0u64);
                let n = self.chain.state.account(&from).nonce.saturating_add(*count);
                *count = count.saturating_add(1);
                n
            }
        };
        let action = self.action(t, from, time_ms)?;
        self.bind_created(t, &action, from, nonce);
        let body = TxBody {
            chain_id: t
                .chain_id
                .clone()
                .unwrap_or_else(|| self.chain.state.chain_id().to_string()),
            nonce,
            action,
        };
        let mut tx = body.sign(&key_from_name(t.sign_as.as_deref().unwrap_or(&t.from)));
        tx.signer = from;
        if t.corrupt_signature {
            tx.signature.0[0] ^= 0x01;
        }
        if t.malformed_signer {
            tx.signer = Address(malformed_key());
        }
        Ok(Built {
            from: t.from.clone(),
            tx,
        })
    }

    /// Names the task or provider a tx creates: by its label, else `NAME#NONCE`.
    fn bind_created(&mut self, t: &TxSpec, action: &Action, from: Address, nonce: u64) {
        let id = match action {
            Action::SubmitTask { .. } => TaskId::derive(&from, nonce).0,
            Action::RegisterProvider { .. } => ProviderId::derive(&from, nonce).0,
            _ => return,
        };
        if let Some(label) = &t.label {
            self.labels.insert(label.clone(), id);
        }
        let name = t
            .label
            .clone()
            .unwrap_or_else(|| format!("{}#{nonce}", t.from));
        self.names.insert(id, name);
    }

    fn build_err(&self, path: &str, message: String) -> ScenarioError {
        ScenarioError::Build {
            path: path.to_string(),
            height: self.chain.state.height().saturating_add(1),
            message,
        }
    }

    pub(super) fn task(&self, r: &TaskRef, path: &str) -> Result<TaskId, ScenarioError> {
        match r {
            TaskRef::Raw(id) => Ok(*id),
            TaskRef::Derived(addr, n) => Ok(TaskId::derive(addr, *n)),
            TaskRef::Label(l) => self
                .labels
                .get(l)
                .map(|b| TaskId(*b))
                .ok_or_else(|| self.build_err(path, format!("label {l:?} is not bound yet"))),
        }
    }

    pub(super) fn provider(
        &self,
        r: &ProviderRef,
        path: &str,
    ) -> Result<ProviderId, ScenarioError> {
        match r {
            ProviderRef::Raw(id) => Ok(*id),
            ProviderRef::Derived(addr, n) => Ok(ProviderId::derive(addr, *n)),
            ProviderRef::Label(l) => self
                .labels
                .get(l)
                .map(|b| ProviderId(*b))
                .ok_or_else(|| self.build_err(path, format!("label {l:?} is not bound yet"))),
            ProviderRef::AssignedTo(t) => {
                let id = self.task(t, path)?;
                self.chain
                    .state
                    .task(&id)
                    .and_then(|task| task.provider)
                    .ok_or_else(|| {
                        self.build_err(
                            path,
                            format!(
                                "no `provider` given and task {} has no assigned provider before this block",
                                self.names.of(&id.0)
                            ),
                        )
                    })
            }
        }
    }

    fn action(&self, t: &TxSpec, signer: Address, time_ms: u64) -> Result<Action, ScenarioError> {
        let p = t.path.as_str();
        Ok(match &t.action {
            ActionSpec::Transfer { to, amount } => Action::Transfer {
                to: *to,
                amount: *amount,
            },
            ActionSpec::RegisterModel {
                id,
                weights,
                task_types,
                context_length,
            } => Action::RegisterModel {
                id: id.clone(),
                weights_hash: *weights,
                task_types: task_types.clone(),
                context_length: *context_length,
            },
            ActionSpec::RetireModel { id } => Action::RetireModel { id: id.clone() },
            ActionSpec::RegisterProvider {
                endpoint,
                gpus,
                models,
                bond,
                attestation,
            } => Action::RegisterProvider {
                endpoint: endpoint.clone(),
                gpus: gpus.clone(),
                models: models.clone(),
                bond: *bond,
                attestation: attestation
                    .as_ref()
                    .map(|a| build_attestation(a, signer, time_ms)),
            },
            ActionSpec::TopUpBond { provider, amount } => Action::TopUpBond {
                provider: self.provider(provider, p)?,
                amount: *amount,
            },
            ActionSpec::Unbond { provider } => Action::Unbond {
                provider: self.provider(provider, p)?,
            },
            ActionSpec::WithdrawBond { provider } => Action::WithdrawBond {
                provider: self.provider(provider, p)?,
            },
            ActionSpec::ClaimRewards { provider } => Action::ClaimRewards {
                provider: self.provider(provider, p)?,
            },
            ActionSpec::Attest {
                provider,
                attestation,
            } => Action::Attest {
                provider: self.provider(provider, p)?,
                attestation: build_attestation(attestation, signer, time_ms),
            },
            ActionSpec::SubmitTask {
                model,
                task_type,
                input,
                inline_input,
                fee,
                redundancy,
            } => Action::SubmitTask {
                model: model.clone(),
                task_type: *task_type,
                input_hash: *input,
                inline_input: inline_input.clone(),
                fee: *fee,
                redundancy: *redundancy,
            },
            ActionSpec::SubmitResult {
                task,
                provider,
                output,
                inline_output,
                compute_time_ms,
            } => Action::SubmitResult {
                task: self.task(task, p)?,
                provider: self.provider(provider, p)?,
                output_hash: *output,
                inline_output: inline_output.clone(),
                compute_time_ms: *compute_time_ms,
            },
            ActionSpec::Challenge { task, claim } => {
                let task = self.task(task, p)?;
                Action::Challenge {
                    task,
                    claim: match claim {
                        CommitSpec::Raw(h) => *h,
                        CommitSpec::Open { output, salt } => {
                            claim_commitment(&task, &signer, output, salt)
                        }
                    },
                }
            }
            ActionSpec::RevealClaim { task, output, salt } => Action::RevealClaim {
                task: self.task(task, p)?,
                output_hash: *output,
                salt: *salt,
            },
            ActionSpec::CommitOutput {
                task,
                provider,
                commitment,
            } => {
                let provider = self.provider(provider, p)?;
                let task = self.task(task, p)?;
                Action::CommitOutput {
                    task,
                    provider,
                    commitment: match commitment {
                        CommitSpec::Raw(h) => *h,
                        CommitSpec::Open { output, salt } => {
                            output_commitment(&task, &provider, output, salt)
                        }
                    },
                }
            }
            ActionSpec::RevealOutput {
                task,
                provider,
                output,
                salt,
            } => Action::RevealOutput {
                task: self.task(task, p)?,
                provider: self.provider(provider, p)?,
                output_hash: *output,
                salt: *salt,
            },
        })
    }
}

fn status_kind(s: &TxStatus) -> Option<String> {
    match s {
        TxStatus::Applied => None,
        TxStatus::Failed(e) => Some(kind_path(&format!("{e:?}")).join(".")),
        TxStatus::Rejected(e) => Some(kind_path(&format!("{e:?}")).join(".")),
    }
}

fn build_attestation(a: &AttestationSpec, signer: Address, time_ms: u64) -> SignedAttestation {
    let issued_at_ms = a.issued_at_ms.unwrap_or(time_ms);
    let seed = |name: &str| -> [u8; 32] { key_from_name(name).into() };
    let attestor_seed = seed(&a.attestor);
    let evidence = AttestationEvidence {
        tee_type: a.tee_type,
        kind: a.kind,
        device_model: a.device_model.clone(),
        measurement: a.measurement,
        cc_enabled: a.cc_enabled,
        tee_io: a.tee_io,
        rim_verified: a.rim_verified,
        benchmark_ok: a.benchmark_ok,
        driver_ok: a.driver_ok,
        issued_at_ms,
        expires_at_ms: a
            .expires_at_ms
            .unwrap_or_else(|| issued_at_ms.saturating_add(ATTESTATION_LIFETIME_MS)),
        provider_key: a.provider_key.unwrap_or(signer).0,
        attestor: public_key_from_seed(&attestor_seed),
    };
    let signing_seed = a.signed_by.as_deref().map_or(attestor_seed, seed);
    sign_attestation(&signing_seed, evidence)
}

/// 32 bytes that are not an ed25519 point, for `malformed_signer`.
fn malformed_key() -> [u8; 32] {
    (0u8..=255)
        .map(|b| {
            let mut k = [b; 32];
            k[31] &= 0x7f;
            k
        })
        .find(|k| ed25519_zebra::VerificationKey::try_from(*k).is_err())
        .unwrap_or([0xff; 32])
}
