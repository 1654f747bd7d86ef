//! Checking a scenario's expectations against receipts and the state after a
//! block: each expectation becomes one [`CheckReport`], passed or not.

use std::collections::BTreeMap;

use aivm_core::providers::ProviderStatus;
use aivm_core::types::{hex, Amount};
use aivm_core::{BlockOutcome, Receipt, TxStatus};

use super::exec::Exec;
use super::render::{amount, kind_matches, kind_path};
use super::spec::*;
use super::CheckReport;

impl Exec<'_> {
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

    pub(super) fn check_receipt(
        &mut self,
        height: u64,
        t: &TxSpec,
        r: &Receipt,
        e: &ReceiptExpect,
    ) {
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

    pub(super) fn run_checks(&mut self, c: &Checks, o: &BlockOutcome, kinds: &[String]) {
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
    pub(super) fn action_kind(&self) -> &'static str {
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
pub(super) fn event_kinds(outcomes: &[BlockOutcome]) -> Vec<String> {
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
