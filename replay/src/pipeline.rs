//! Where a replay's blocks come from: read from the log, decoded and
//! signature-checked, ahead of the thread that applies them.
//!
//! With more than one thread, a reader thread cuts the log into chunks of
//! consecutive frames and hands each to a pool of verification threads as an
//! independent task; the applying thread takes the results back in log
//! order. No thread ever waits for a whole batch of chunks to finish: a pool
//! thread that the scheduler pauses (the applying thread shares the cores)
//! holds up only its own chunk, while the other threads go on with the next
//! ones. At most `CHUNKS_AHEAD` (16) chunks are read and not yet applied, which
//! bounds memory whatever the log's length.

use std::borrow::Borrow;
use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use aivm_core::encoding::decode;
use aivm_core::tx::AuthError;
use aivm_core::types::Hash;
use aivm_core::{Block, SignedTx, VerifiedTx};
use rayon::prelude::*;

use crate::log::{LogFrame, LogReader, FRAME_CHECKSUM_LEN, FRAME_HEAD_LEN, MIN_BODY_LEN};
use crate::replayer::ReplayError;

/// Signatures verified together in one batch.
pub const BATCH: usize = 64;
/// A chunk ends after this many bytes of blocks...
const CHUNK_BYTES: usize = 1 << 18;
/// ...or this many frames.
const CHUNK_FRAMES: usize = 256;
/// Chunks read but not yet applied: queued, being verified, or verified and
/// waiting for the applying thread.
const CHUNKS_AHEAD: usize = 16;

pub(crate) type BoxRead = Box<dyn Read + Send>;

/// A block decoded and signature-checked, ready to apply.
pub(crate) struct Prepared {
    pub offset: u64,
    pub height: u64,
    /// Offset just past the frame.
    pub end: u64,
    pub block: Block,
    pub verdicts: Vec<Result<VerifiedTx, AuthError>>,
    pub state_root: Hash,
    pub results_root: Hash,
    pub outcome: Vec<u8>,
}

/// Verifies one batch; only when it fails, checks each signature alone to
/// name the bad ones.
pub fn verify_batch<T: Borrow<SignedTx>>(txs: &[T]) -> Vec<Result<VerifiedTx, AuthError>> {
    // The signer rule (`check_signer`) is not part of the signature equation:
    // apply it first so a batch can never accept what `SignedTx::verify` refuses.
    if txs.iter().any(|t| t.borrow().check_signer().is_err()) {
        return txs.iter().map(|t| t.borrow().verify()).collect();
    }
    let mut verifier = ed25519_zebra::batch::Verifier::new();
    for t in txs {
        verifier.queue(t.borrow().batch_item());
    }
    if verifier.verify(rand::rng()).is_ok() {
        txs.iter()
            .map(|t| Ok(t.borrow().assume_verified()))
            .collect()
    } else {
        txs.iter().map(|t| t.borrow().verify()).collect()
    }
}

/// Verdicts for every transaction, in order, in batches of [`BATCH`].
pub fn verify_sequential(txs: &[SignedTx]) -> Vec<Result<VerifiedTx, AuthError>> {
    txs.chunks(BATCH).flat_map(verify_batch).collect()
}

fn frame_end(f: &LogFrame) -> u64 {
    let body = MIN_BODY_LEN as usize + f.block.len() + f.outcome.len();
    f.offset + (FRAME_HEAD_LEN + body + FRAME_CHECKSUM_LEN) as u64
}

fn decode_block(f: &LogFrame) -> Result<Block, ReplayError> {
    decode::<Block>(&f.block).map_err(|error| ReplayError::BlockDecode {
        height: f.height,
        offset: f.offset,
        error,
    })
}

fn prepared(f: LogFrame, block: Block, verdicts: Vec<Result<VerifiedTx, AuthError>>) -> Prepared {
    Prepared {
        offset: f.offset,
        height: f.height,
        end: frame_end(&f),
        block,
        verdicts,
        state_root: f.state_root,
        results_root: f.results_root,
        outcome: f.outcome,
    }
}

fn prepare_one(f: LogFrame) -> Result<Prepared, ReplayError> {
    let block = decode_block(&f)?;
    let verdicts = verify_sequential(&block.txs);
    Ok(prepared(f, block, verdicts))
}

/// The decoded frames up to the first that fails to decode, and that failure.
fn decode_until_error(
    decoded: impl IntoIterator<Item = (LogFrame, Result<Block, ReplayError>)>,
) -> (Vec<(LogFrame, Block)>, Option<ReplayError>) {
    let mut good = Vec::new();
    for (f, b) in decoded {
        match b {
            Ok(b) => good.push((f, b)),
            Err(e) => return (good, Some(e)),
        }
    }
    (good, None)
}

/// Hands each block its verdicts, taken in order from `verdicts`.
fn with_verdicts(
    good: Vec<(LogFrame, Block)>,
    mut verdicts: impl Iterator<Item = Result<VerifiedTx, AuthError>>,
) -> Vec<Prepared> {
    good.into_iter()
        .map(|(f, b)| {
            let v: Vec<_> = verdicts.by_ref().take(b.txs.len()).collect();
            prepared(f, b, v)
        })
        .collect()
}

/// Decodes and verifies a chunk on the current thread. Returns the blocks up
/// to the first failure, and the failure. Batches span the chunk's blocks.
fn prepare_chunk(frames: Vec<LogFrame>) -> (Vec<Prepared>, Option<ReplayError>) {
    let (good, error) = decode_until_error(frames.into_iter().map(|f| {
        let b = decode_block(&f);
        (f, b)
    }));
    let all: Vec<&SignedTx> = good.iter().flat_map(|(_, b)| b.txs.iter()).collect();
    let verdicts: Vec<_> = all.chunks(BATCH).flat_map(verify_batch).collect();
    (with_verdicts(good, verdicts.into_iter()), error)
}

/// [`prepare_chunk`] for many frames at once, spread over the current rayon
/// pool (the apply-only benchmark prepares a whole log this way, untimed).
pub(crate) fn prepare_all(frames: Vec<LogFrame>) -> (Vec<Prepared>, Option<ReplayError>) {
    let decoded: Vec<(LogFrame, Result<Block, ReplayError>)> = frames
        .into_par_iter()
        .map(|f| {
            let b = decode_block(&f);
            (f, b)
        })
        .collect();
    let (good, error) = decode_until_error(decoded);
    let all: Vec<&SignedTx> = good.iter().flat_map(|(_, b)| b.txs.iter()).collect();
    let batches: Vec<Vec<Result<VerifiedTx, AuthError>>> =
        all.par_chunks(BATCH).map(verify_batch).collect();
    (with_verdicts(good, batches.into_iter().flatten()), error)
}

/// How the log ends, as the reader found it.
pub(crate) enum Tail {
    End { torn_tail: Option<u64> },
    Error(ReplayError),
}

/// What the verification side hands back, numbered in log order.
pub(crate) enum Piece {
    Chunk {
        blocks: Vec<Prepared>,
        /// A decode failure after the last of `blocks`: it ends the replay.
        error: Option<ReplayError>,
    },
    Tail(Tail),
}

pub(crate) enum Next {
    Block(Box<Prepared>),
    End { torn_tail: Option<u64> },
    Error(ReplayError),
}

/// Pieces received out of order, released in order.
pub(crate) struct InOrder {
    rx: Receiver<(u64, Piece)>,
    waiting: BTreeMap<u64, Piece>,
    next: u64,
}

impl InOrder {
    /// The next piece in log order; `None` if the reader side is gone.
    fn next(&mut self) -> Option<Piece> {
        loop {
            if let Some(piece) = self.waiting.remove(&self.next) {
                self.next += 1;
                return Some(piece);
            }
            let (seq, piece) = self.rx.recv().ok()?;
            self.waiting.insert(seq, piece);
        }
    }
}

/// Where prepared blocks come from: inline, or from the reader thread and its pool.
pub(crate) enum Source {
    Inline {
        reader: LogReader<BoxRead>,
        finished: bool,
    },
    Piped {
        pieces: InOrder,
        /// One permit goes back each time a chunk is taken, so the reader
        /// never runs more than [`CHUNKS_AHEAD`] chunks ahead.
        permits: Option<SyncSender<()>>,
        buf: VecDeque<Prepared>,
        /// How the stream ends, once reached.
        tail: Option<Tail>,
        stop: Arc<AtomicBool>,
        handle: Option<JoinHandle<()>>,
    },
}

impl Source {
    pub(crate) fn new(reader: LogReader<BoxRead>, threads: usize) -> Result<Source, ReplayError> {
        if threads <= 1 {
            return Ok(Source::Inline {
                reader,
                finished: false,
            });
        }
        let (tx, rx) = channel();
        let (permits, permit_rx) = sync_channel(CHUNKS_AHEAD);
        for _ in 0..CHUNKS_AHEAD {
            let _ = permits.try_send(());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("aivm-read".into())
            .spawn(move || produce_on_scoped_pool(reader, threads, tx, permit_rx, flag))
            .map_err(|e| ReplayError::Internal(format!("cannot start the reader thread: {e}")))?;
        Ok(Source::Piped {
            pieces: InOrder {
                rx,
                waiting: BTreeMap::new(),
                next: 0,
            },
            permits: Some(permits),
            buf: VecDeque::new(),
            tail: None,
            stop,
            handle: Some(handle),
        })
    }

    pub(crate) fn next(&mut self) -> Next {
        match self {
            Source::Inline { reader, finished } => next_inline(reader, finished),
            Source::Piped {
                pieces,
                permits,
                buf,
                tail,
                ..
            } => loop {
                if let Some(p) = buf.pop_front() {
                    return Next::Block(Box::new(p));
                }
                match tail.take() {
                    Some(Tail::End { torn_tail }) => {
                        *tail = Some(Tail::End { torn_tail });
                        return Next::End { torn_tail };
                    }
                    Some(Tail::Error(e)) => {
                        *tail = Some(Tail::End { torn_tail: None });
                        return Next::Error(e);
                    }
                    None => {}
                }
                match pieces.next() {
                    Some(Piece::Chunk { blocks, error }) => {
                        if let Some(p) = permits {
                            let _ = p.try_send(());
                        }
                        buf.extend(blocks);
                        *tail = error.map(Tail::Error);
                    }
                    Some(Piece::Tail(t)) => *tail = Some(t),
                    None => {
                        *tail = Some(Tail::End { torn_tail: None });
                        return Next::Error(ReplayError::Internal(
                            "the verification thread stopped unexpectedly".into(),
                        ));
                    }
                }
            },
        }
    }
}

fn next_inline(reader: &mut LogReader<BoxRead>, finished: &mut bool) -> Next {
    if *finished {
        return Next::End {
            torn_tail: reader.torn_tail(),
        };
    }
    match reader.next() {
        None => {
            *finished = true;
            Next::End {
                torn_tail: reader.torn_tail(),
            }
        }
        Some(Err(e)) => {
            *finished = true;
            Next::Error(e.into())
        }
        Some(Ok(f)) => match prepare_one(f) {
            Ok(p) => Next::Block(Box::new(p)),
            Err(e) => {
                *finished = true;
                Next::Error(e)
            }
        },
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Source::Piped {
            permits,
            stop,
            handle,
            ..
        } = self
        {
            stop.store(true, Ordering::Relaxed);
            // Wakes a reader waiting for a permit.
            drop(permits.take());
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// Runs [`produce`] on a pool of `threads` verification threads, every one
/// of them joined (`pthread_join`: the thread has fully exited) before it
/// returns. A dropped rayon pool would leave its threads winding down after
/// the session has ended, which LeakSanitizer reports under fuzzing; a scoped
/// pool only waits for their closures, not for the threads to be gone.
fn produce_on_scoped_pool(
    reader: LogReader<BoxRead>,
    threads: usize,
    tx: Sender<(u64, Piece)>,
    permits: Receiver<()>,
    stop: Arc<AtomicBool>,
) {
    let mut handles = Vec::new();
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("aivm-verify-{i}"))
        .spawn_handler(|thread| {
            let mut builder = std::thread::Builder::new();
            if let Some(name) = thread.name() {
                builder = builder.name(name.to_string());
            }
            handles.push(builder.spawn(|| thread.run())?);
            Ok(())
        })
        .build();
    match built {
        Ok(pool) => {
            produce(reader, &pool, &tx, &permits, &stop);
            // Dropping the pool lets its threads finish their work and exit.
            drop(pool);
        }
        Err(e) => {
            let error = ReplayError::Internal(format!("cannot start {threads} threads: {e}"));
            let _ = tx.send((0, Piece::Tail(Tail::Error(error))));
        }
    }
    for h in handles {
        let _ = h.join();
    }
}

/// Chunks handed to the pool and not finished yet: the reader waits for
/// them all before its pool is torn down.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

impl InFlight {
    fn start(self: &Arc<Self>) -> InFlightGuard {
        if let Ok(mut n) = self.count.lock() {
            *n += 1;
        }
        InFlightGuard(self.clone())
    }

    fn wait_idle(&self) {
        let Ok(mut n) = self.count.lock() else {
            return;
        };
        while *n > 0 {
            match self.idle.wait(n) {
                Ok(g) => n = g,
                Err(_) => return,
            }
        }
    }
}

/// Marks its chunk finished when dropped, however the task ends.
struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut n) = self.0.count.lock() {
            *n = n.saturating_sub(1);
        }
        self.0.idle.notify_all();
    }
}

/// How reading a chunk stopped.
enum ChunkEnd {
    Full,
    Tail(Tail),
    Stopped,
}

fn read_chunk(reader: &mut LogReader<BoxRead>, stop: &AtomicBool) -> (Vec<LogFrame>, ChunkEnd) {
    let mut frames = Vec::new();
    let mut bytes = 0usize;
    while bytes < CHUNK_BYTES && frames.len() < CHUNK_FRAMES {
        if stop.load(Ordering::Relaxed) {
            return (frames, ChunkEnd::Stopped);
        }
        match reader.next() {
            Some(Ok(f)) => {
                bytes += f.block.len();
                frames.push(f);
            }
            Some(Err(e)) => return (frames, ChunkEnd::Tail(Tail::Error(e.into()))),
            None => {
                let torn_tail = reader.torn_tail();
                return (frames, ChunkEnd::Tail(Tail::End { torn_tail }));
            }
        }
    }
    (frames, ChunkEnd::Full)
}

/// The reader: cuts the log into chunks, one pool task each, numbered so the
/// applying side can put them back in order; the end of the log (or the read
/// error that ends it) comes last.
fn produce(
    mut reader: LogReader<BoxRead>,
    pool: &rayon::ThreadPool,
    tx: &Sender<(u64, Piece)>,
    permits: &Receiver<()>,
    stop: &AtomicBool,
) {
    let in_flight = Arc::new(InFlight::default());
    let mut seq = 0u64;
    loop {
        // No permit: the applying side has gone.
        if permits.recv().is_err() {
            break;
        }
        let (frames, end) = read_chunk(&mut reader, stop);
        if !frames.is_empty() && !matches!(end, ChunkEnd::Stopped) {
            let guard = in_flight.start();
            let tx = tx.clone();
            pool.spawn_fifo(move || {
                let (blocks, error) = prepare_chunk(frames);
                let _ = tx.send((seq, Piece::Chunk { blocks, error }));
                drop(guard);
            });
            seq += 1;
        }
        match end {
            ChunkEnd::Full => {}
            ChunkEnd::Tail(t) => {
                let _ = tx.send((seq, Piece::Tail(t)));
                break;
            }
            ChunkEnd::Stopped => break,
        }
    }
    in_flight.wait_idle();
}
