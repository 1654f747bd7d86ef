//! The properties the fuzz targets check, as plain functions of the input bytes.
//!
//! `fuzz/fuzz_targets/*.rs` call these from libFuzzer (nightly), and the
//! stable test suite replays every committed corpus file through the very same
//! functions, so a crash found once stays fixed. Each function panics only when
//! a property fails; an input it cannot use is simply ignored.
//!
//! Built only with the `arbitrary` feature.

pub mod gen;

/// The `arbitrary` crate, for dependents that drive these generators.
pub use arbitrary;

use arbitrary::Unstructured;
use serde::{de::DeserializeOwned, Serialize};

use crate::apply::{apply_observed, check_tx};
use crate::block::{Block, Header};
use crate::config::Config;
use crate::encoding::{decode, encode};
use crate::events::Event;
use crate::genesis::Genesis;
use crate::outcome::{BlockError, BlockOutcome, Receipt, TxStatus};
use crate::state::State;
use crate::tx::{SignedTx, TxBody, VerifiedTx};
use crate::types::{Address, Amount};

use gen::{Limits, NextHeader, TxGen, Verdict};

// ---- decode_block ---------------------------------------------------------------------------

/// Decoding any bytes as a consensus type never panics, and whatever decodes
/// re-encodes to exactly the same bytes (and decodes back to the same value).
/// Values built by `arbitrary` survive an encode/decode round trip.
pub fn check_decode_block(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(selector) = u.int_in_range(0u8..=9) else {
        return;
    };
    let rest = u.take_rest();
    match selector {
        0 => {
            if let Some(block) = canonical::<Block>(rest) {
                touch_block(&block);
            }
        }
        1 => {
            if let Some(tx) = canonical::<SignedTx>(rest) {
                touch_tx(&tx);
            }
        }
        2 => {
            if let Some(g) = canonical::<Genesis>(rest) {
                check_genesis(&g);
            }
        }
        3 => {
            canonical::<BlockOutcome>(rest);
        }
        4 => {
            canonical::<Header>(rest);
        }
        5 => {
            canonical::<TxBody>(rest);
        }
        6 => {
            if let Some(c) = canonical::<Config>(rest) {
                let _ = c.validate();
            }
        }
        7 => round_trip::<Block>(rest),
        8 => round_trip::<SignedTx>(rest),
        _ => round_trip::<Config>(rest),
    }
}

/// Decodes `bytes`; if that works, checks the canonical-form properties.
fn canonical<T>(bytes: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug,
{
    let value = decode::<T>(bytes).ok()?;
    assert_eq!(
        encode(&value),
        bytes,
        "decoded value re-encodes differently"
    );
    assert_eq!(
        decode::<T>(bytes).as_ref(),
        Ok(&value),
        "decoding is not deterministic"
    );
    Some(value)
}

/// A value built by `arbitrary` encodes to bytes that decode to the same value.
fn round_trip<'a, T>(bytes: &'a [u8])
where
    T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug + arbitrary::Arbitrary<'a>,
{
    let Ok(value) = Unstructured::new(bytes).arbitrary::<T>() else {
        return;
    };
    let encoded = encode(&value);
    assert_eq!(
        decode::<T>(&encoded),
        Ok(value),
        "encode/decode round trip changed the value"
    );
}

fn touch_tx(tx: &SignedTx) {
    let _ = tx.hash();
    if let Ok(v) = tx.verify() {
        assert_eq!(v.hash, tx.hash());
        let keys = v.conflict_keys();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "conflict keys not sorted and unique"
        );
        assert!(!v.commutes_with(&v), "a transaction commutes with itself");
    }
}

fn touch_block(block: &Block) {
    let _ = block.id();
    let _ = crate::block::tx_root(&block.txs);
    block.txs.iter().for_each(touch_tx);
}

/// A genesis that builds yields a state whose invariants and roots hold.
fn check_genesis(g: &Genesis) {
    let Ok(state) = State::genesis(g) else {
        return;
    };
    assert_eq!(
        state.check_invariants(),
        Ok(()),
        "genesis breaks the invariants"
    );
    assert_eq!(
        state.reference_state_root(),
        state.state_root(),
        "genesis root"
    );
}

// ---- apply_sequence -------------------------------------------------------------------------

/// An arbitrary genesis and blocks of transactions of every kind: no panic;
/// invariants and the receipt rules after every tx; incremental root equal to
/// the from-scratch root after every block; a second application of the same
/// blocks gives the same outcomes.
pub fn check_apply_sequence(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Some((genesis, run)) = drive(&mut u, &Limits::default()) else {
        return;
    };
    run.replay_from(&genesis);
}

/// A chain generated from fuzz input and applied with every check of
/// [`check_apply_sequence`]: for targets that need a realistic chain (logs, replay).
pub struct GeneratedChain {
    pub genesis: Genesis,
    pub blocks: Vec<Block>,
    pub outcomes: Vec<BlockOutcome>,
    /// The state after the last block.
    pub state: State,
}

/// Generates and applies a chain within `limits`; None when the input does not
/// give a usable genesis.
pub fn generate_chain(u: &mut Unstructured, limits: &Limits) -> Option<GeneratedChain> {
    let (genesis, run) = drive(u, limits)?;
    let (blocks, outcomes) = run.applied.into_iter().map(|(b, _, o)| (b, o)).unzip();
    Some(GeneratedChain {
        genesis,
        blocks,
        outcomes,
        state: run.state,
    })
}

fn drive(u: &mut Unstructured, limits: &Limits) -> Option<(Genesis, Run)> {
    let (genesis, state) = genesis_state(u)?;
    let blocks = u.int_in_range(1..=limits.blocks.max(1)).ok()?;
    let mut run = Run::new(state);
    for _ in 0..blocks {
        if run.step(u, limits).is_err() || run.state.height() >= limits.height {
            break;
        }
    }
    Some((genesis, run))
}

/// The genesis and its state, checked; None when the generated genesis is refused.
fn genesis_state(u: &mut Unstructured) -> Option<(Genesis, State)> {
    let genesis = gen::genesis(u).ok()?;
    let state = State::genesis(&genesis).ok()?;
    assert_eq!(
        state.check_invariants(),
        Ok(()),
        "genesis breaks the invariants"
    );
    assert_eq!(
        state.reference_state_root(),
        state.state_root(),
        "genesis root"
    );
    Some((genesis, state))
}

/// A block as applied: the block, its signature verdicts and its outcome.
type Applied = (Block, Vec<Verdict>, BlockOutcome);

/// A chain being driven by the fuzzer, with every applied block and its verdicts.
struct Run {
    state: State,
    applied: Vec<Applied>,
}

impl Run {
    fn new(state: State) -> Self {
        Run {
            state,
            applied: Vec::new(),
        }
    }

    /// One block of generated transactions (now and then a damaged header, which
    /// must be refused), then maybe a run of empty blocks so timers fire.
    fn step(&mut self, u: &mut Unstructured, limits: &Limits) -> arbitrary::Result<()> {
        let header = gen::next_header(u, &self.state)?;
        let (txs, verified): (Vec<_>, Vec<_>) =
            TxGen::new(&self.state, header.clone(), limits.sign)
                .judged_txs(u, limits.txs)?
                .into_iter()
                .unzip();
        let block = header.block(txs);
        if u.ratio(1, 32)? {
            check_bad_header(u, &self.state, block, verified)?;
        } else {
            self.apply(block, verified);
        }
        if u.ratio(1, 3)? {
            let room = limits.height.saturating_sub(self.state.height());
            let gap = if u.ratio(1, 4)? {
                u.int_in_range(1..=limits.gap)?
            } else {
                u.int_in_range(1..=4)?
            };
            for _ in 0..gap.min(room) {
                self.apply(gen::empty_header(&self.state).block(Vec::new()), Vec::new());
            }
        }
        Ok(())
    }

    fn apply(&mut self, block: Block, verified: Vec<Verdict>) {
        let (next, outcome) = apply_checked(&self.state, &block, verified.clone());
        self.state = next;
        self.applied.push((block, verified, outcome));
    }

    /// Applies the recorded blocks again from the genesis, in place this
    /// time (a state nothing shares, updated without copying): same
    /// outcomes, same roots as the copying application.
    fn replay_from(self, genesis: &Genesis) {
        let Ok(mut state) = State::genesis(genesis) else {
            panic!("a genesis that built once is refused the second time");
        };
        for (block, verified, outcome) in self.applied {
            let again = crate::apply_verified_block_in_place(&mut state, &block, verified);
            let Ok(again) = again else {
                panic!(
                    "block {} accepted once, refused on replay",
                    block.header.height
                );
            };
            assert_eq!(
                again, outcome,
                "replaying block {} gave another outcome",
                block.header.height
            );
        }
        assert_eq!(
            state.state_root(),
            self.state.state_root(),
            "replay ended at another root"
        );
    }
}

/// A damaged header is refused with an error and applying it changes nothing.
fn check_bad_header(
    u: &mut Unstructured,
    state: &State,
    mut block: Block,
    verified: Vec<Verdict>,
) -> arbitrary::Result<()> {
    let h = &mut block.header;
    match u.int_in_range(0..=4u8)? {
        0 => h.height = u.arbitrary::<u64>()?.max(h.height.saturating_add(1)),
        1 => h.parent[0] ^= 1,
        2 => h.chain_id.push('x'),
        3 if state.tip().time_ms > 0 => h.time_ms = state.tip().time_ms - 1,
        _ => h.tx_root[31] ^= 1,
    }
    let result: Result<_, BlockError> =
        apply_observed(state, &block, verified.clone(), &mut |_, _| {});
    assert!(
        result.is_err(),
        "a block with a damaged header was accepted"
    );
    // In place, the refusal must leave the state exactly as it was.
    let mut own = state.clone();
    let result = crate::apply_verified_block_in_place(&mut own, &block, verified);
    assert!(result.is_err(), "in place, a damaged header was accepted");
    assert_eq!(own.tip(), state.tip(), "a refused block moved the tip");
    assert_eq!(own.reference_state_root(), state.reference_state_root());
    Ok(())
}

/// Applies `block`, checking after every transaction what the core promises.
fn apply_checked(state: &State, block: &Block, verified: Vec<Verdict>) -> (State, BlockOutcome) {
    let mut checker = TxChecker::new(state, block, &verified);
    let result = apply_observed(state, block, verified, &mut |s, r| checker.observe(s, r));
    let Ok((next, outcome)) = result else {
        panic!("a well-formed block was refused: {:?}", result.err());
    };
    assert_eq!(
        outcome.receipts.len(),
        block.txs.len(),
        "one receipt per transaction"
    );
    assert_eq!(
        outcome.state_root,
        next.state_root(),
        "outcome root differs from the state's"
    );
    assert_eq!(
        next.reference_state_root(),
        next.state_root(),
        "incremental root differs from the from-scratch root at height {}",
        block.header.height
    );
    assert_eq!(next.check_invariants(), Ok(()));
    check_trust_events(state, &next, &outcome);
    (next, outcome)
}

/// Every provider whose earned trust moved in the block announced its new value last.
fn check_trust_events(before: &State, after: &State, outcome: &BlockOutcome) {
    let mut announced = std::collections::BTreeMap::new();
    let events = outcome.receipts.iter().flat_map(|r| &r.events);
    for e in events.chain(&outcome.end_events) {
        if let Event::TrustChanged { provider, trust } = e {
            announced.insert(*provider, *trust);
        }
    }
    for p in after.providers.values() {
        let old = before.providers.get(&p.id).map_or(0, |o| o.trust);
        if p.trust != old {
            assert_eq!(
                announced.get(&p.id),
                Some(&p.trust),
                "the trust of provider {:?} moved without its last TrustChanged saying so",
                p.id
            );
        }
    }
}

/// Per-transaction checks: invariants, mempool admission agreeing with
/// execution, and that a rejected tx changes nothing while a failed one changes
/// only its fee and nonce.
struct TxChecker {
    prev: State,
    signers: Vec<Address>,
    /// The verified form of each tx, None when its signature failed.
    txs: Vec<Option<VerifiedTx>>,
    next: usize,
    /// Supply at genesis: total supply must always equal it plus mints minus burns.
    base_supply: Option<Amount>,
}

impl TxChecker {
    fn new(state: &State, block: &Block, verified: &[Verdict]) -> Self {
        let g = state.globals();
        TxChecker {
            prev: state.clone(),
            signers: block.txs.iter().map(|t| t.signer).collect(),
            txs: verified.iter().map(|v| v.as_ref().ok().cloned()).collect(),
            next: 0,
            base_supply: g
                .total_supply
                .checked_add(g.total_burned)
                .and_then(|s| s.checked_sub(g.total_minted)),
        }
    }

    fn observe(&mut self, state: &State, receipt: Option<&Receipt>) {
        if let Err(e) = state.check_invariants() {
            panic!(
                "invariant broken after {:?}: {e}",
                receipt.map(|r| &r.status)
            );
        }
        let g = state.globals();
        let supply = g
            .total_supply
            .checked_add(g.total_burned)
            .and_then(|s| s.checked_sub(g.total_minted));
        assert_eq!(
            supply, self.base_supply,
            "supply moved other than by mint and burn"
        );
        if let Some(r) = receipt {
            let signer = self.signers.get(self.next).copied().unwrap_or_default();
            let admitted = match self.txs.get(self.next) {
                Some(Some(tx)) => check_tx(&self.prev, tx).is_ok(),
                _ => false,
            };
            self.next += 1;
            let rejected = matches!(r.status, TxStatus::Rejected(_));
            assert_eq!(
                admitted, !rejected,
                "check_tx disagrees with execution: {:?}",
                r.status
            );
            check_receipt(&self.prev, state, &signer, r);
        }
        self.prev = state.clone();
    }
}

fn check_receipt(before: &State, after: &State, signer: &Address, r: &Receipt) {
    let fee = before.config().tx_fee;
    let (n0, n1) = (before.account(signer).nonce, after.account(signer).nonce);
    assert_eq!(
        after.globals().receipts_processed,
        before.globals().receipts_processed + 1,
        "receipt counter"
    );
    match &r.status {
        TxStatus::Rejected(_) => {
            assert_eq!(
                (r.fee, r.events.len()),
                (0, 0),
                "a rejected tx was charged or emitted events"
            );
            assert_eq!(n1, n0, "a rejected tx moved the nonce");
            assert_eq!(
                before.holdings(),
                after.holdings(),
                "a rejected tx moved value"
            );
            assert_eq!(
                counts(before),
                counts(after),
                "a rejected tx changed entities"
            );
        }
        TxStatus::Failed(_) => {
            assert_eq!(
                (r.fee, n1),
                (fee, n0 + 1),
                "a failed tx must pay its fee and use its nonce"
            );
            let (mut b, a) = (before.holdings(), after.holdings());
            if let Some(h) = b.as_mut() {
                h.balances = h.balances.saturating_sub(fee);
                h.fee_pot = h.fee_pot.saturating_add(fee);
            }
            assert_eq!(b, a, "a failed tx moved value other than its fee");
            assert_eq!(
                counts(before),
                counts(after),
                "a failed tx changed entities"
            );
        }
        TxStatus::Applied => {
            assert_eq!(
                (r.fee, n1),
                (fee, n0 + 1),
                "an applied tx must pay its fee and use its nonce"
            );
        }
    }
}

/// Entity counts, a cheap fingerprint of "nothing else changed".
fn counts(s: &State) -> (usize, usize, usize, usize, u64) {
    (
        s.tasks().count(),
        s.providers().len(),
        s.models().len(),
        s.pending_tasks().len(),
        s.globals().queue_seq,
    )
}

// ---- commute --------------------------------------------------------------------------------

/// Two verified transactions with disjoint conflict keys give the same state
/// root (and the same receipts) in either order within one block, whatever
/// came before them in the block and the chain, and whatever follows.
pub fn check_commute(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = commute(&mut u);
}

fn commute(u: &mut Unstructured) -> arbitrary::Result<()> {
    let Some((_, state)) = genesis_state(u) else {
        return Ok(());
    };
    let limits = Limits {
        blocks: 3,
        txs: 8,
        gap: 16,
        height: 64,
        sign: false,
    };
    let mut run = Run::new(state);
    for _ in 0..u.int_in_range(0..=limits.blocks)? {
        run.step(u, &limits)?;
    }
    let header = gen::next_header(u, &run.state)?;
    let mut g = TxGen::new(&run.state, header.clone(), limits.sign);
    let before = g.txs(u, 3)?;
    let (a, b) = (g.tx(u)?, g.tx(u)?);
    let after = g.txs(u, 2)?;
    let (Ok(va), Ok(vb)) = (gen::unsigned_verdict(&a), gen::unsigned_verdict(&b)) else {
        return Ok(());
    };
    assert_eq!(
        va.commutes_with(&vb),
        vb.commutes_with(&va),
        "commutes_with is not symmetric"
    );
    if !va.commutes_with(&vb) {
        return Ok(());
    }
    let ab = commute_block(&run.state, &header, &before, [&a, &b], &after);
    let ba = commute_block(&run.state, &header, &before, [&b, &a], &after);
    let (i, j) = (before.len(), before.len() + 1);
    let describe = || format!("{:?} / {:?}", va.body.action, vb.body.action);
    assert_eq!(
        ab.receipts.get(i),
        ba.receipts.get(j),
        "receipt of the first tx depends on order: {}",
        describe()
    );
    assert_eq!(
        ab.receipts.get(j),
        ba.receipts.get(i),
        "receipt of the second tx depends on order: {}",
        describe()
    );
    assert_eq!(
        ab.state_root,
        ba.state_root,
        "commuting txs gave different roots: {}",
        describe()
    );
    assert_eq!(
        ab.end_events,
        ba.end_events,
        "block end depends on order: {}",
        describe()
    );
    Ok(())
}

fn commute_block(
    state: &State,
    header: &NextHeader,
    before: &[SignedTx],
    pair: [&SignedTx; 2],
    after: &[SignedTx],
) -> BlockOutcome {
    let txs: Vec<SignedTx> = before.iter().chain(pair).chain(after).cloned().collect();
    let block = header.block(txs);
    let verified = gen::verdicts(&block.txs, false);
    apply_checked(state, &block, verified).1
}
