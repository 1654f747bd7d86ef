//! Comparing two logs: replays both in lockstep (each fully checked), finds
//! the first block where they part ways, and lists the state entries that
//! differ at that height.

use std::iter::Peekable;
use std::path::Path;

use aivm_core::types::Hash;
use aivm_core::State;
use serde::Serialize;
use serde_json::Value;

use crate::json::{hex32, to_json};
use crate::replayer::{ReplayError, ReplayOptions, Session, Step};

/// Entries listed at most; the total is still counted.
pub const MAX_ENTRIES: usize = 50;

/// One side of a block comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockRoots {
    pub height: u64,
    #[serde(with = "crate::json::hex_bytes")]
    pub block_id: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub state_root: Hash,
    #[serde(with = "crate::json::hex_bytes")]
    pub results_root: Hash,
}

impl BlockRoots {
    fn of(step: &Step) -> Self {
        BlockRoots {
            height: step.height,
            block_id: step.outcome.block_id,
            state_root: step.outcome.state_root,
            results_root: step.outcome.results_root,
        }
    }
}

/// Where and why the logs part ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirstDivergence {
    pub height: u64,
    /// What differs: `genesis`, `block id`, `state root`, `results root`, or
    /// which log ends first.
    pub reasons: Vec<String>,
    pub a: Option<BlockRoots>,
    pub b: Option<BlockRoots>,
}

/// A state entry that differs between the two logs at the divergence height.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntryDiff {
    /// `accounts`, `providers`, `tasks`, `models` or `globals`.
    pub collection: String,
    /// Hex id, model id or globals field.
    pub key: String,
    pub a: Option<Value>,
    pub b: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiffReport {
    pub identical: bool,
    /// Heights both logs have and agree on.
    pub common_height: u64,
    pub a_height: u64,
    pub b_height: u64,
    pub divergence: Option<FirstDivergence>,
    /// At most [`MAX_ENTRIES`] entries...
    pub entries: Vec<EntryDiff>,
    /// ...out of this many.
    pub entries_total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("log A: {0}")]
    A(ReplayError),
    #[error("log B: {0}")]
    B(ReplayError),
}

impl DiffError {
    pub fn replay_error(&self) -> &ReplayError {
        match self {
            DiffError::A(e) | DiffError::B(e) => e,
        }
    }
}

/// Compares two logs block by block.
pub fn diff_logs(a: &Path, b: &Path, opts: &ReplayOptions) -> Result<DiffReport, DiffError> {
    let sa = Session::open(a, opts).map_err(DiffError::A)?;
    let sb = Session::open(b, opts).map_err(DiffError::B)?;
    diff_sessions(sa, sb)
}

/// [`diff_logs`] over sessions already opened (on files or on bytes).
pub fn diff_sessions(mut sa: Session, mut sb: Session) -> Result<DiffReport, DiffError> {
    if sa.genesis().hash() != sb.genesis().hash() {
        let divergence = FirstDivergence {
            height: 0,
            reasons: vec!["genesis".into()],
            a: None,
            b: None,
        };
        return Ok(report(&sa, &sb, 0, Some(divergence)));
    }
    let mut common = 0;
    loop {
        let x = sa.step().map_err(DiffError::A)?;
        let y = sb.step().map_err(DiffError::B)?;
        let (ra, rb) = (
            x.as_ref().map(BlockRoots::of),
            y.as_ref().map(BlockRoots::of),
        );
        let reasons = match (&ra, &rb) {
            (None, None) => return Ok(report(&sa, &sb, common, None)),
            (Some(_), None) => vec!["log B ends here".to_string()],
            (None, Some(_)) => vec!["log A ends here".to_string()],
            (Some(p), Some(q)) => differences(p, q),
        };
        if !reasons.is_empty() {
            let height = ra.as_ref().or(rb.as_ref()).map_or(common + 1, |r| r.height);
            let divergence = FirstDivergence {
                height,
                reasons,
                a: ra,
                b: rb,
            };
            // Comparing states of different heights would only show the last block's effects.
            let both = divergence.a.is_some() && divergence.b.is_some();
            let mut r = report(&sa, &sb, common, Some(divergence));
            if !both {
                r.entries.clear();
                r.entries_total = 0;
            }
            return Ok(r);
        }
        common += 1;
    }
}

fn differences(a: &BlockRoots, b: &BlockRoots) -> Vec<String> {
    let mut out = Vec::new();
    if a.block_id != b.block_id {
        out.push("block id".to_string());
    }
    if a.state_root != b.state_root {
        out.push("state root".to_string());
    }
    if a.results_root != b.results_root {
        out.push("results root".to_string());
    }
    out
}

fn report(
    sa: &Session,
    sb: &Session,
    common: u64,
    divergence: Option<FirstDivergence>,
) -> DiffReport {
    let mut entries = Vec::new();
    let mut total = 0;
    if divergence.is_some() {
        compare_states(sa.state(), sb.state(), &mut entries, &mut total);
    }
    DiffReport {
        identical: divergence.is_none(),
        common_height: common,
        a_height: sa.height(),
        b_height: sb.height(),
        divergence,
        entries,
        entries_total: total,
    }
}

struct Out<'a> {
    entries: &'a mut Vec<EntryDiff>,
    total: &'a mut u64,
}

impl Out<'_> {
    fn push(&mut self, collection: &str, key: String, a: Option<Value>, b: Option<Value>) {
        *self.total += 1;
        if self.entries.len() < MAX_ENTRIES {
            self.entries.push(EntryDiff {
                collection: collection.to_string(),
                key,
                a,
                b,
            });
        }
    }
}

/// Merge-joins two key-ordered sequences and records every entry that differs.
fn merge<'v, K, V, I, J>(out: &mut Out, name: &str, a: I, b: J, key: impl Fn(&K) -> String)
where
    K: Ord,
    V: PartialEq + Serialize + 'v,
    I: Iterator<Item = (K, &'v V)>,
    J: Iterator<Item = (K, &'v V)>,
{
    let (mut a, mut b): (Peekable<I>, Peekable<J>) = (a.peekable(), b.peekable());
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => return,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
        };
        match order {
            std::cmp::Ordering::Less => {
                if let Some((k, v)) = a.next() {
                    out.push(name, key(&k), Some(to_json(v)), None);
                }
            }
            std::cmp::Ordering::Greater => {
                if let Some((k, v)) = b.next() {
                    out.push(name, key(&k), None, Some(to_json(v)));
                }
            }
            std::cmp::Ordering::Equal => {
                if let (Some((k, va)), Some((_, vb))) = (a.next(), b.next()) {
                    if va != vb {
                        out.push(name, key(&k), Some(to_json(va)), Some(to_json(vb)));
                    }
                }
            }
        }
    }
}

/// Lists the state entries that differ; only collections whose roots differ are walked.
pub fn compare_states(a: &State, b: &State, entries: &mut Vec<EntryDiff>, total: &mut u64) {
    let (ra, rb) = (a.collection_roots(), b.collection_roots());
    let mut out = Out { entries, total };
    if ra.accounts != rb.accounts {
        merge(
            &mut out,
            "accounts",
            a.accounts().map(|(k, v)| (*k, v)),
            b.accounts().map(|(k, v)| (*k, v)),
            |k| hex32(&k.0),
        );
    }
    if ra.providers != rb.providers {
        let (pa, pb) = (a.providers(), b.providers());
        merge(
            &mut out,
            "providers",
            pa.into_iter().map(|p| (p.id, p)),
            pb.into_iter().map(|p| (p.id, p)),
            |k| hex32(&k.0),
        );
    }
    if ra.tasks != rb.tasks {
        merge(
            &mut out,
            "tasks",
            a.tasks().map(|t| (t.id, t)),
            b.tasks().map(|t| (t.id, t)),
            |k| hex32(&k.0),
        );
    }
    if ra.models != rb.models {
        let (ma, mb) = (a.models(), b.models());
        merge(
            &mut out,
            "models",
            ma.into_iter().map(|m| (m.id.clone(), m)),
            mb.into_iter().map(|m| (m.id.clone(), m)),
            |k| k.clone(),
        );
    }
    if ra.genesis != rb.genesis {
        out.push(
            "genesis",
            "hash".into(),
            Some(Value::String(hex32(&ra.genesis))),
            Some(Value::String(hex32(&rb.genesis))),
        );
    }
    if ra.globals != rb.globals {
        let (ga, gb) = (to_json(a.globals()), to_json(b.globals()));
        if let (Value::Object(ga), Value::Object(gb)) = (ga, gb) {
            for (field, va) in &ga {
                let vb = gb.get(field);
                if Some(va) != vb {
                    out.push("globals", field.clone(), Some(va.clone()), vb.cloned());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::fixture::{relog, small};
    use crate::record::chain_to_bytes;

    fn diff(a: Vec<u8>, b: Vec<u8>) -> DiffReport {
        let o = ReplayOptions::default();
        let sa = Session::from_bytes(a, &o).expect("a");
        let sb = Session::from_bytes(b, &o).expect("b");
        diff_sessions(sa, sb).expect("diffs")
    }

    #[test]
    fn identical_logs() {
        let s = small();
        let r = diff(s.bytes.clone(), s.bytes.clone());
        assert!(r.identical && r.divergence.is_none() && r.entries.is_empty());
        assert_eq!(r.common_height, s.blocks.len() as u64);
    }

    #[test]
    fn a_shorter_log_ends_first() {
        let s = small();
        let short = chain_to_bytes(&s.genesis, &s.blocks[..20], &s.outcomes[..20]).expect("writes");
        let r = diff(s.bytes.clone(), short);
        let d = r.divergence.expect("differs");
        assert_eq!((d.height, r.common_height), (21, 20));
        assert_eq!(d.reasons, vec!["log B ends here".to_string()]);
        assert!(d.b.is_none() && r.entries.is_empty());
    }

    #[test]
    fn a_fork_names_the_block_and_the_entries() {
        // Another chain with the same genesis: the same demo with another seed.
        let s = small();
        let other = crate::demo::generate(&crate::demo::DemoOptions {
            seed: 5,
            blocks: 12,
            ..crate::demo::DemoOptions::small()
        })
        .expect("builds");
        assert_eq!(other.genesis, s.genesis);
        let b = chain_to_bytes(&other.genesis, &other.blocks, &other.outcomes).expect("writes");
        let r = diff(s.bytes.clone(), b);
        let d = r.divergence.expect("differs");
        assert!(d.reasons.contains(&"block id".to_string()));
        assert_eq!(d.height, r.common_height + 1);
        assert!(r.entries_total > 0);
        assert!(r
            .entries
            .iter()
            .any(|e| e.collection == "accounts" && e.a.is_some() && e.b.is_some()));
        // The same blocks re-framed are the same log.
        assert!(diff(s.bytes.clone(), relog(|_| true)).identical);
    }

    #[test]
    fn another_genesis_differs_at_height_zero() {
        let s = small();
        let mut g = s.genesis.clone();
        g.time_ms += 1;
        let b = chain_to_bytes(&g, &[], &[]).expect("writes");
        let r = diff(s.bytes.clone(), b);
        let d = r.divergence.expect("differs");
        assert_eq!(
            (d.height, d.reasons.clone()),
            (0, vec!["genesis".to_string()])
        );
        assert!(r.entries.iter().any(|e| e.collection == "genesis"));
    }
}
