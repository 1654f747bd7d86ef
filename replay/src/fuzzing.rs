//! The properties of the replay-side fuzz targets (`replay_log`, `scenario_json`),
//! as plain functions of the input bytes: `fuzz/fuzz_targets/*.rs` call them
//! under libFuzzer, and the stable test suite replays every committed corpus
//! file through them. They panic only when a property fails.
//!
//! Built only with the `fuzzing` feature (it turns on `aivm-core/arbitrary`).

use aivm_core::encoding::{decode, encode};
use aivm_core::fuzzing::arbitrary::{self, Unstructured};
use aivm_core::fuzzing::gen::Limits;
use aivm_core::fuzzing::{generate_chain, GeneratedChain};
use aivm_core::types::Hash;
use aivm_core::{apply_block, Block, Genesis, State};

use crate::log::{read_all, FrameData, LogHeader, LogWriter, ReaderOptions, SyncPolicy};
use crate::replayer::{ReplayOptions, Session};
use crate::scenario;

/// Scenarios producing more blocks than this are parsed but not run.
pub const MAX_SCENARIO_BLOCKS: u64 = 64;

/// Small chains: a log replay must stay fast.
const LOG_LIMITS: Limits = Limits {
    blocks: 4,
    txs: 6,
    gap: 8,
    height: 40,
    sign: true,
};

// ---- replay_log -----------------------------------------------------------------------------

/// Arbitrary bytes as a log give a clean error or a replay (no panic, bounded
/// memory), and the replayer ([`Session`]) agrees with an independent minimal
/// replay ([`oracle_replay`]) on every log, with one thread or two. A log
/// written from a generated chain replays to the chain's own root; the same
/// log with a damaged root, re-sealed with valid checksums, is refused at the
/// damaged frame; raw damage never panics.
pub fn check_replay_log(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Some((mode, torn, threads)) = read_replay_mode(&mut u) else {
        return;
    };
    let replay = |bytes: &[u8]| replay_both(bytes, torn, threads);
    if mode == 0 {
        let _ = replay(u.take_rest());
        return;
    }
    let Some(chain) = generate_chain(&mut u, &LOG_LIMITS) else {
        return;
    };
    let _ = match mode {
        1 => check_clean_log(&chain, &replay),
        2 => check_raw_damage(&mut u, &chain, &replay),
        _ => check_resealed_root(&mut u, &chain, &replay),
    };
}

/// The head of a `replay_log` input: mode (0 raw log, 1-3 generated), whether
/// torn tails are accepted, and the replay's thread count.
fn read_replay_mode(u: &mut Unstructured) -> Option<(u8, bool, usize)> {
    let mode = u.int_in_range(0u8..=3).ok()?;
    let torn = u.ratio(1, 2).unwrap_or(false);
    let threads = if u.ratio(1, 8).unwrap_or(false) { 2 } else { 1 };
    Some((mode, torn, threads))
}

/// A `replay_log` input replaying `log` as it is (raw mode, one thread),
/// accepting a torn tail or not: how fixture logs become seeds.
pub fn raw_log_input(log: &[u8], accept_torn_tail: bool) -> Vec<u8> {
    let head = [0u8, if accept_torn_tail { 0 } else { 1 }, 1];
    [&head[..], log].concat()
}

/// What replaying a log gave: the frame count and the final state root.
pub type Replayed = (u64, Hash);

/// Replays `bytes` with the replayer and the oracle, which must agree; the
/// oracle's verdict (with its precise message) is returned.
pub fn replay_both(bytes: &[u8], torn: bool, threads: usize) -> Result<Replayed, String> {
    let oracle = oracle_replay(bytes, torn);
    let replayed = replayer(bytes, torn, threads);
    match (&oracle, &replayed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the replayer and the oracle reached different ends"),
        (Err(_), Err(_)) => {}
        _ => {
            panic!("the replayer and the oracle disagree: replayer {replayed:?}, oracle {oracle:?}")
        }
    }
    if threads > 1 {
        let single = replayer(bytes, torn, 1);
        assert_eq!(replayed, single, "the thread count changed the replay");
    }
    oracle
}

/// The replayer's verdict on a log, in memory.
pub fn replayer(bytes: &[u8], torn: bool, threads: usize) -> Result<Replayed, String> {
    let opts = ReplayOptions {
        threads,
        accept_torn_tail: torn,
        stop_at: None,
        progress: false,
        reference_check: true,
    };
    let mut session = Session::from_bytes(bytes.to_vec(), &opts).map_err(|e| e.to_string())?;
    let summary = session.run_to_end().map_err(|e| e.to_string())?;
    Ok((summary.blocks, summary.state_root))
}

/// A minimal, independent replay of a log: every frame's block decoded,
/// applied, and its recorded roots (and outcome bytes, when present) checked.
/// It reads with the same frame cap as the replayer; the reader's own bound
/// keeps memory proportional to the bytes present, whatever a length claims.
pub fn oracle_replay(bytes: &[u8], accept_torn_tail: bool) -> Result<Replayed, String> {
    let opts = ReaderOptions {
        accept_torn_tail,
        ..ReaderOptions::default()
    };
    let (header, frames) = read_all(bytes, opts).map_err(|e| format!("log: {e}"))?;
    let genesis: Genesis = decode(&header.genesis).map_err(|e| format!("genesis: {e}"))?;
    header
        .check_genesis(&genesis.chain_id, &header.genesis_hash)
        .map_err(|e| format!("header: {e}"))?;
    let mut state = State::genesis(&genesis).map_err(|e| format!("genesis: {e}"))?;
    for f in &frames {
        let block: Block = decode(&f.block).map_err(|e| format!("block {}: {e}", f.height))?;
        if block.header.height != f.height {
            return Err(format!(
                "frame {} carries block {}",
                f.height, block.header.height
            ));
        }
        let (next, outcome) =
            apply_block(&state, &block).map_err(|e| format!("block {}: {e}", f.height))?;
        if (outcome.state_root, outcome.results_root) != (f.state_root, f.results_root) {
            return Err(format!("block {}: roots differ", f.height));
        }
        if !f.outcome.is_empty() && f.outcome != encode(&outcome) {
            return Err(format!("block {}: outcome differs", f.height));
        }
        state = next;
    }
    Ok((frames.len() as u64, state.state_root()))
}

/// The log of a chain, each frame carrying `root_of(i)` as its state root.
fn write_log(chain: &GeneratedChain, root_of: impl Fn(usize, Hash) -> Hash) -> Vec<u8> {
    let header = LogHeader::new(chain.genesis.chain_id.clone(), encode(&chain.genesis));
    let Ok(mut w) = LogWriter::new(Vec::new(), &header, SyncPolicy::Never) else {
        panic!("a generated genesis does not fit a log header");
    };
    for (i, (block, outcome)) in chain.blocks.iter().zip(&chain.outcomes).enumerate() {
        let (block_bytes, outcome_bytes) = (encode(block), encode(outcome));
        let frame = FrameData {
            height: block.header.height,
            block: &block_bytes,
            state_root: root_of(i, outcome.state_root),
            results_root: outcome.results_root,
            outcome: &outcome_bytes,
        };
        if let Err(e) = w.append(&frame) {
            panic!("cannot log generated block {}: {e}", block.header.height);
        }
    }
    match w.finish() {
        Ok(bytes) => bytes,
        Err(e) => panic!("cannot finish an in-memory log: {e}"),
    }
}

type Replay<'a> = &'a dyn Fn(&[u8]) -> Result<Replayed, String>;

fn check_clean_log(chain: &GeneratedChain, replay: Replay) -> arbitrary::Result<()> {
    let bytes = write_log(chain, |_, r| r);
    let expected = (chain.blocks.len() as u64, chain.state.state_root());
    assert_eq!(
        replay(&bytes),
        Ok(expected),
        "a faithful log does not replay"
    );
    Ok(())
}

/// Flips, truncates or splices raw bytes: any verdict but a panic will do,
/// except that a cut at a frame boundary or inside the last frame still
/// replays the frames before it when torn tails are accepted.
fn check_raw_damage(
    u: &mut Unstructured,
    chain: &GeneratedChain,
    replay: Replay,
) -> arbitrary::Result<()> {
    let mut bytes = write_log(chain, |_, r| r);
    for _ in 0..u.int_in_range(1..=4)? {
        if bytes.is_empty() {
            break;
        }
        let at = u.choose_index(bytes.len())?;
        match u.int_in_range(0..=3u8)? {
            0 => bytes[at] ^= u.int_in_range(1..=255)?,
            1 => bytes.truncate(at),
            2 => bytes.insert(at, u.arbitrary()?),
            _ => {
                bytes.remove(at);
            }
        }
    }
    let _ = replay(&bytes);
    Ok(())
}

/// A wrong state root, even in a log whose checksums are all valid, is found
/// at exactly the frame that carries it.
fn check_resealed_root(
    u: &mut Unstructured,
    chain: &GeneratedChain,
    replay: Replay,
) -> arbitrary::Result<()> {
    if chain.blocks.is_empty() {
        return Ok(());
    }
    let bad = u.choose_index(chain.blocks.len())?;
    let bit = u.int_in_range(0..=255u8)?;
    let bytes = write_log(chain, |i, mut r| {
        if i == bad {
            r[usize::from(bit / 8)] ^= 1 << (bit % 8);
        }
        r
    });
    let verdict = replay(&bytes);
    let height = chain.blocks.get(bad).map_or(0, |b| b.header.height);
    assert_eq!(
        verdict,
        Err(format!("block {height}: roots differ")),
        "a forged root was not caught"
    );
    Ok(())
}

// ---- scenario_json --------------------------------------------------------------------------

/// Arbitrary text given to the scenario parser gives a clean error or a
/// scenario. A scenario of at most [`MAX_SCENARIO_BLOCKS`] blocks runs without
/// panicking (its errors are fine), and the log it compiles to replays.
pub fn check_scenario_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = match scenario::parse(text) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    if parsed.block_count() > MAX_SCENARIO_BLOCKS {
        return;
    }
    if let Ok(report) = scenario::run(&parsed) {
        let _ = report.render_text();
    }
    let Ok((genesis, blocks, outcomes)) = scenario::compile(&parsed) else {
        return;
    };
    let bytes = match crate::record::chain_to_bytes(&genesis, &blocks, &outcomes) {
        Ok(b) => b,
        Err(e) => panic!("a compiled scenario cannot be logged: {e}"),
    };
    let end = outcomes.last().map(|o| o.state_root);
    let replayed = replay_both(&bytes, false, 1);
    assert_eq!(
        replayed.as_ref().map(|r| r.0),
        Ok(blocks.len() as u64),
        "a compiled scenario does not replay"
    );
    if let (Ok((_, root)), Some(end)) = (replayed, end) {
        assert_eq!(root, end, "a compiled scenario replays to another root");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_log_input_selects_raw_mode_one_thread_and_its_torn_policy() {
        for torn in [false, true] {
            let data = raw_log_input(b"log bytes", torn);
            let mut u = Unstructured::new(&data);
            assert_eq!(read_replay_mode(&mut u), Some((0, torn, 1)));
            assert_eq!(u.take_rest(), b"log bytes");
        }
    }
}
