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
use aivm_core::providers::ProviderStatus;
use aivm_core::tx::{address_from_name, key_from_name};
use aivm_core::types::{hex, Address, Amount, Hash, ProviderId, TaskId};
use aivm_core::{Action, Block, BlockOutcome, Receipt, SignedTx, TxBody, TxStatus};

use super::render::{amount, kind_matches, kind_path, Names};
use super::spec::*;
use super::{BlockReport, CheckReport, Scenario, ScenarioError, ScenarioReport, TxReport};

/// Default lifetime of a scenario attestation: one day.
const ATTESTATION_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;

pub(crate) struct Exec<'s> {
    s: &'s Scenario,
    pub chain: Chain,
    /// Label -> the id it names (tasks and providers share one namespace).
    labels: BTreeMap<String, [u8; 32]>,
    names: Names,
    /// The actor name that signed each tx of each applied block, for reports.
    pub blocks: Vec<BlockReport>,
    pub checks: Vec<CheckReport>,
}

/// Who signed a tx and what its receipt must say, kept while the block is applied.
struct Built {
    from: String,
    tx: SignedTx,
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
        let from: Vec<String> = built.iter().map(|b| b.from.clone()).collect();
        let txs = built.into_iter().map(|b| b.tx).collect();
        let outcome = self.apply(
            &b.path,
            time_ms,
            b.seed,
            b.proposer,
            txs,
            b.path.clone(),
            from,
        )?;
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
            let time_ms = self.next_time(path)?;
            let source = format!("{path}, advance {} of {n}", i + 1);
            let o = self.apply(path, time_ms, None, None, Vec::new(), source, Vec::new())?;
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

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        path: &str,
        time_ms: u64,
        seed: Option<Hash>,
        proposer: Option<Address>,
        txs: Vec<SignedTx>,
        source: String,
        from: Vec<String>,
    ) -> Result<BlockOutcome, ScenarioError> {
        let tip = self.chain.state.tip().clone();
        let height = tip.height.saturating_add(1);
        let block = Block::new(
            self.chain.state.chain_id(),
            height,
            tip.block_id,
            time_ms,
            proposer.unwrap_or(self.chain.proposer),
            seed.unwrap_or_else(|| Chain::seed_for(height)),
            txs,
        );
        let tx_meta: Vec<(Hash, &'static str)> = block
            .txs
            .iter()
            .map(|t| (t.hash(), t.body.action.kind()))
            .collect();
        let outcome = self
            .chain
            .apply(block)
            .map_err(|e| ScenarioError::Build {
                path: path.to_string(),
                height,
                message: e.to_string(),
            })?
            .clone();
        let report = self.block_report(&outcome, time_ms, source, &from, &tx_meta);
        self.blocks.push(report);
        Ok(outcome)
    }

    fn block_report(
        &self,
        o: &BlockOutcome,
        time_ms: u64,
        source: String,
        from: &[String],
        meta: &[(Hash, &'static str)],
    ) -> BlockReport {
        let txs = o
            .receipts
            .iter()
            .enumerate()
            .map(|(i, r)| TxReport {
                index: i as u64,
                from: from.get(i).cloned().unwrap_or_default(),
                action: meta.get(i).map_or("", |m| m.1).to_string(),
                hash: hex(&r.tx),
                status: self.status_text(&r.status),
                error_kind: status_kind(&r.status),
                fee: r.fee.to_string(),
                events: r.events.iter().map(|e| self.names.debug(e)).collect(),
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
        let action = self.action(t, from, nonce, time_ms)?;
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

    fn task(&self, r: &TaskRef, path: &str) -> Result<TaskId, ScenarioError> {
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

    fn provider(&self, r: &ProviderRef, path: &str) -> Result<ProviderId, ScenarioError> {
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

    fn action(
        &self,
        t: &TxSpec,
        signer: Address,
        _nonce: u64,
        time_ms: u64,
    ) -> Result<Action, ScenarioError> {
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
                        CommitSpec::Open { output, salt } => claim_commitment(&task, &signer, output, salt),
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

    // ---- checks ---------------------------------------------------------------------------

    fn push_check(
        &mut self,
        height: u64,
        path: String,
        what: String,
        expected: String,
        actual: String,
    ) {
        let passed = expected == actual;
        self.checks.push(CheckReport {
            height,
            path,
            what,
            expected,
            actual,
            passed,
        });
    }

    fn check_receipt(&mut self, height: u64, t: &TxSpec, r: &Receipt, e: &ReceiptExpect) {
        let actual_kind = match &r.status {
            TxStatus::Applied => Vec::new(),
            TxStatus::Failed(err) => kind_path(&format!("{err:?}")),
            TxStatus::Rejected(err) => kind_path(&format!("{err:?}")),
        };
        let (want_outcome, want_kind) = match e {
            ReceiptExpect::Applied => ("applied", None),
            ReceiptExpect::Failed(k) => ("failed", k.as_deref()),
            ReceiptExpect::Rejected(k) => ("rejected", k.as_deref()),
        };
        let got_outcome = match r.status {
            TxStatus::Applied => "applied",
            TxStatus::Failed(_) => "failed",
            TxStatus::Rejected(_) => "rejected",
        };
        let kind_ok = want_kind.is_none_or(|k| kind_matches(k, &actual_kind));
        let expected = match want_kind {
            Some(k) => format!("{want_outcome}: {k}"),
            None => want_outcome.to_string(),
        };
        let actual = if got_outcome == want_outcome && kind_ok {
            expected.clone()
        } else if actual_kind.is_empty() {
            got_outcome.to_string()
        } else {
            format!("{got_outcome}: {}", actual_kind.join("."))
        };
        let what = format!("receipt of {} {}", t.from, t.action_kind());
        self.push_check(height, format!("{}.expect", t.path), what, expected, actual);
    }

    fn run_checks(&mut self, c: &Checks, o: &BlockOutcome, kinds: &[String]) {
        let h = o.height;
        let state = self.chain.state.clone();
        for (name, addr, want) in &c.balances {
            let got = state.balance(addr);
            self.push_check(
                h,
                sub(&c.path, "balances", name),
                format!("balance of {name}"),
                amount(*want),
                amount(got),
            );
        }
        for (name, addr, want) in &c.nonces {
            let got = state.account(addr).nonce;
            self.push_check(
                h,
                sub(&c.path, "nonces", name),
                format!("nonce of {name}"),
                want.to_string(),
                got.to_string(),
            );
        }
        for (name, r, tc) in &c.tasks {
            self.task_checks(&state, h, &sub(&c.path, "tasks", name), name, r, tc);
        }
        for (name, r, pc) in &c.providers {
            self.provider_checks(&state, h, &sub(&c.path, "providers", name), name, r, pc);
        }
        for (id, want) in &c.models {
            let got = match state.models().into_iter().find(|m| &m.id == id) {
                None => ModelState::Absent,
                Some(m) if m.retired => ModelState::Retired,
                Some(_) => ModelState::Active,
            };
            self.push_check(
                h,
                sub(&c.path, "models", id),
                format!("model {id}"),
                want.name().into(),
                got.name().into(),
            );
        }
        let stats = stats_map(&state);
        for (field, want) in &c.stats {
            let got = stats.get(field.as_str()).copied().unwrap_or(0);
            self.push_check(
                h,
                sub(&c.path, "stats", field),
                format!("stat {field}"),
                amount(*want),
                amount(got),
            );
        }
        for k in &c.events {
            let got = if kinds.contains(k) {
                "present"
            } else {
                "absent"
            };
            self.push_check(
                h,
                format!("{}.events", c.path),
                format!("event {k}"),
                "present".into(),
                got.into(),
            );
        }
        for k in &c.no_events {
            let got = if kinds.contains(k) {
                "present"
            } else {
                "absent"
            };
            self.push_check(
                h,
                format!("{}.no_events", c.path),
                format!("event {k}"),
                "absent".into(),
                got.into(),
            );
        }
        if let Some(root) = c.state_root {
            self.push_check(
                h,
                format!("{}.state_root", c.path),
                "state root".into(),
                hex(&root),
                hex(&o.state_root),
            );
        }
    }

    fn task_checks(
        &mut self,
        state: &aivm_core::State,
        h: u64,
        path: &str,
        name: &str,
        r: &TaskRef,
        c: &TaskCheck,
    ) {
        let task = self
            .task(r, path)
            .ok()
            .and_then(|id| state.task(&id).cloned());
        let absent = || "absent".to_string();
        if let Some(want) = &c.status {
            let got = task
                .as_ref()
                .map_or_else(absent, |t| t.status.name().to_string());
            self.push_check(
                h,
                format!("{path}.status"),
                format!("task {name} status"),
                want.clone(),
                got,
            );
        }
        if let Some(want) = &c.provider {
            let want = self
                .provider(want, path)
                .map_or_else(|_| "unbound".into(), |id| self.names.of(&id.0));
            let got = match &task {
                None => absent(),
                Some(t) => t
                    .provider
                    .map_or_else(|| "none".into(), |p| self.names.of(&p.0)),
            };
            self.push_check(
                h,
                format!("{path}.provider"),
                format!("task {name} provider"),
                want,
                got,
            );
        }
        if let Some(want) = c.requeues {
            let got = task
                .as_ref()
                .map_or_else(absent, |t| t.requeues.to_string());
            self.push_check(
                h,
                format!("{path}.requeues"),
                format!("task {name} requeues"),
                want.to_string(),
                got,
            );
        }
        if let Some(want) = c.fee {
            let got = task.as_ref().map_or_else(absent, |t| amount(t.fee));
            self.push_check(
                h,
                format!("{path}.fee"),
                format!("task {name} escrowed fee"),
                amount(want),
                got,
            );
        }
        if let Some(want) = c.output {
            let got = match &task {
                None => absent(),
                Some(t) => t
                    .final_output
                    .map_or_else(|| "none".into(), |o| self.names.of(&o)),
            };
            self.push_check(
                h,
                format!("{path}.output"),
                format!("task {name} final output"),
                self.names.of(&want),
                got,
            );
        }
    }

    fn provider_checks(
        &mut self,
        state: &aivm_core::State,
        h: u64,
        path: &str,
        name: &str,
        r: &ProviderRef,
        c: &ProviderCheck,
    ) {
        let p = self
            .provider(r, path)
            .ok()
            .and_then(|id| state.provider(&id).cloned());
        let now = state.tip().time_ms;
        let field = |this: &mut Self,
                     key: &str,
                     want: Option<String>,
                     get: &dyn Fn(&aivm_core::providers::Provider) -> String| {
            if let Some(want) = want {
                let got = p.as_ref().map_or_else(|| "absent".to_string(), get);
                this.push_check(
                    h,
                    format!("{path}.{key}"),
                    format!("provider {name} {key}"),
                    want,
                    got,
                );
            }
        };
        field(self, "status", c.status.clone(), &|p| match p.status {
            ProviderStatus::Active => "active".into(),
            ProviderStatus::Unbonding { .. } => "unbonding".into(),
        });
        field(self, "bond", c.bond.map(amount), &|p| amount(p.bond));
        field(self, "locked", c.locked.map(amount), &|p| amount(p.locked));
        field(
            self,
            "open_tasks",
            c.open_tasks.map(|v| v.to_string()),
            &|p| p.open_tasks.to_string(),
        );
        field(self, "trust", c.trust.map(|v| v.to_string()), &|p| {
            p.trust.to_string()
        });
        field(
            self,
            "trust_score",
            c.trust_score.map(|v| v.to_string()),
            &|p| p.attested_score(now).to_string(),
        );
        field(
            self,
            "pending_rewards",
            c.pending_rewards.map(amount),
            &|p| amount(p.stats.pending_rewards),
        );
        field(self, "total_rewards", c.total_rewards.map(amount), &|p| {
            amount(p.stats.total_rewards)
        });
        field(self, "slashed", c.slashed.map(amount), &|p| {
            amount(p.stats.slashed)
        });
        field(
            self,
            "tasks_completed",
            c.tasks_completed.map(|v| v.to_string()),
            &|p| p.stats.tasks_completed.to_string(),
        );
        field(
            self,
            "tasks_missed",
            c.tasks_missed.map(|v| v.to_string()),
            &|p| p.stats.tasks_missed.to_string(),
        );
    }
}

impl TxSpec {
    fn action_kind(&self) -> &'static str {
        match &self.action {
            ActionSpec::Transfer { .. } => "transfer",
            ActionSpec::RegisterModel { .. } => "register_model",
            ActionSpec::RetireModel { .. } => "retire_model",
            ActionSpec::RegisterProvider { .. } => "register_provider",
            ActionSpec::TopUpBond { .. } => "top_up_bond",
            ActionSpec::Unbond { .. } => "unbond",
            ActionSpec::WithdrawBond { .. } => "withdraw_bond",
            ActionSpec::Attest { .. } => "attest",
            ActionSpec::SubmitTask { .. } => "submit_task",
            ActionSpec::SubmitResult { .. } => "submit_result",
            ActionSpec::Challenge { .. } => "challenge",
            ActionSpec::RevealClaim { .. } => "reveal_claim",
            ActionSpec::CommitOutput { .. } => "commit_output",
            ActionSpec::RevealOutput { .. } => "reveal_output",
            ActionSpec::ClaimRewards { .. } => "claim_rewards",
        }
    }
}

fn sub(path: &str, section: &str, key: &str) -> String {
    format!("{path}.{section}[{key:?}]")
}

/// The kind (variant name) of every event of the given blocks.
fn event_kinds(outcomes: &[BlockOutcome]) -> Vec<String> {
    let mut out = Vec::new();
    for o in outcomes {
        let events = o
            .receipts
            .iter()
            .flat_map(|r| &r.events)
            .chain(&o.end_events);
        for e in events {
            if let Some(k) = kind_path(&format!("{e:?}")).into_iter().next() {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
    }
    out
}

fn status_kind(s: &TxStatus) -> Option<String> {
    match s {
        TxStatus::Applied => None,
        TxStatus::Failed(e) => Some(kind_path(&format!("{e:?}")).join(".")),
        TxStatus::Rejected(e) => Some(kind_path(&format!("{e:?}")).join(".")),
    }
}

fn stats_map(state: &aivm_core::State) -> BTreeMap<&'static str, Amount> {
    let s = state.stats();
    BTreeMap::from([
        ("tasks_pending", Amount::from(s.tasks_pending)),
        ("tasks_completed", Amount::from(s.tasks_completed)),
        ("tasks_failed", Amount::from(s.tasks_failed)),
        ("providers_total", Amount::from(s.providers_total)),
        ("providers_active", Amount::from(s.providers_active)),
        ("models_available", Amount::from(s.models_available)),
        ("total_minted", s.total_minted),
        ("epoch", Amount::from(s.epoch)),
        ("epoch_rewards", s.epoch_rewards),
        ("receipts_processed", Amount::from(s.receipts_processed)),
        ("total_supply", s.total_supply),
        ("total_burned", s.total_burned),
        ("treasury", s.treasury),
    ])
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
