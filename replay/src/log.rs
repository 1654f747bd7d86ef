//! The aivm block log: a versioned, append-only, event-sourced file format.
//!
//! A log is a header (magic, format version, chain id, the genesis' canonical
//! bytes and their hash) followed by one frame per block, in height order,
//! starting at height 1. Each frame carries the block's canonical bytes, the
//! state root and results root the chain recorded after applying it, and an
//! opaque "outcome" section (the replayer stores the block outcome's
//! canonical bytes there). The exact byte layout, the checksum rules, the
//! versioning policy and the torn-tail rule are specified in
//! `docs/LOG-FORMAT.md`; this module is the reference implementation.
//!
//! The format is byte-level: this module never decodes block, genesis or
//! outcome bytes, so it does not depend on `aivm-core`.
//!
//! Reading is streaming and allocation-bounded: every length field is checked
//! against a cap before anything is read, and bodies are read in chunks so the
//! memory used grows only with bytes that are actually present. A corrupt
//! length can never make the reader allocate more than the cap, and a claimed
//! length on a short stream allocates no more than what the stream held.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The 8 bytes every log starts with.
pub const MAGIC: [u8; 8] = *b"AIVMLOG\0";
/// The only format version this module reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Longest chain id, in bytes of UTF-8.
pub const MAX_CHAIN_ID_LEN: usize = 256;
/// Largest genesis section, in bytes (16 MiB).
pub const MAX_GENESIS_LEN: u32 = 16 << 20;
/// Largest frame body, in bytes (64 MiB). A reader may be configured lower
/// ([`ReaderOptions::max_frame_len`]), never higher; a writer refuses to
/// write a larger frame.
pub const MAX_FRAME_LEN: u32 = 64 << 20;
/// Length of a frame's head: body length (4), height (8), head check (8).
pub const FRAME_HEAD_LEN: usize = 20;
/// Length of the checksum that ends every frame (a full blake3 hash).
pub const FRAME_CHECKSUM_LEN: usize = 32;
/// Smallest valid body: block length (4) + state root (32) + results root
/// (32) + outcome length (4), with empty block and outcome.
pub const MIN_BODY_LEN: u32 = 4 + 32 + 32 + 4;
/// Height of the first frame (the genesis is height 0 and lives in the header).
pub const FIRST_HEIGHT: u64 = 1;

/// Header offsets of the fixed fields.
const OFF_VERSION: u64 = 8;
const OFF_FLAGS: u64 = 10;
const OFF_CHAIN_ID_LEN: u64 = 12;
const OFF_CHAIN_ID: u64 = 14;
/// Bytes of a header that are not the chain id or genesis: magic 8, version
/// 2, flags 2, chain id length 2, genesis length 4, genesis hash 32, header
/// checksum 32.
const HEADER_FIXED_LEN: u64 = 8 + 2 + 2 + 2 + 4 + 32 + 32;
/// Bodies are read in chunks of at most this many bytes.
const READ_CHUNK: usize = 64 * 1024;

/// Every way reading or writing a log can fail. Offsets are byte offsets from
/// the start of the log; heights are block heights (the genesis is 0).
///
/// For a frame, `offset` is where the frame starts (its length field) and
/// `height` is the height the frame must carry there (previous + 1), which is
/// also the height it does carry unless the error is [`LogError::OutOfOrder`].
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The first 8 bytes are not [`MAGIC`]: this is not an aivm log.
    #[error("not an aivm log: bad magic at byte 0 (found {})", hex(.found))]
    BadMagic { found: Vec<u8> },

    /// The log ends inside its header.
    #[error("truncated header: the log ends at byte {offset}, inside the {field}")]
    TruncatedHeader { offset: u64, field: &'static str },

    /// The header declares a format version this reader does not know.
    #[error("unsupported log format version {found} at byte 8 (this reader supports version {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },

    /// The header sets flags this version does not define.
    #[error("unsupported header flags {found:#06x} at byte 10 (version 1 defines none)")]
    UnsupportedFlags { found: u16 },

    /// The header is damaged: a length is out of range, the chain id is not
    /// UTF-8, or the header checksum does not match.
    #[error("corrupt header at byte {offset}: {reason}")]
    HeaderCorrupt { offset: u64, reason: &'static str },

    /// The header checksum is right but the stored genesis hash is not the
    /// blake3 hash of the stored genesis bytes (a faulty or forging writer).
    #[error("genesis hash mismatch at byte {offset}: stored {}, genesis bytes hash to {}", hex(.stored), hex(.computed))]
    GenesisHashMismatch {
        offset: u64,
        stored: [u8; 32],
        computed: [u8; 32],
    },

    /// The log is for another chain id than the caller expected.
    #[error("wrong chain id at byte {offset}: expected {expected:?}, log has {found:?}")]
    WrongChainId {
        offset: u64,
        expected: String,
        found: String,
    },

    /// The log starts from another genesis than the caller expected.
    #[error("wrong genesis at byte {offset}: expected genesis hash {}, log has {}", hex(.expected), hex(.found))]
    WrongGenesis {
        offset: u64,
        expected: [u8; 32],
        found: [u8; 32],
    },

    /// The log ends inside a frame (a torn tail, refused because
    /// [`ReaderOptions::accept_torn_tail`] is off).
    #[error("truncated frame at byte {offset} (height {height}): the log ends after {have} of the frame's {need} bytes")]
    TruncatedFrame {
        offset: u64,
        height: u64,
        have: u64,
        need: u64,
    },

    /// A frame's head check (over its length and height) does not match: the
    /// length or height field is damaged, or these bytes are not a frame.
    #[error("corrupt frame head at byte {offset} (height {height}): head check mismatch")]
    FrameHeadCorrupt { offset: u64, height: u64 },

    /// A frame's checksum does not match its bytes (flipped bits).
    #[error("checksum mismatch in frame at byte {offset} (height {height})")]
    ChecksumMismatch { offset: u64, height: u64 },

    /// A frame declares a body longer than the cap.
    #[error("frame at byte {offset} (height {height}) is too large: body of {len} bytes, the limit is {max}")]
    FrameTooLarge {
        offset: u64,
        height: u64,
        len: u64,
        max: u32,
    },

    /// A frame carries another height than previous + 1: a frame was
    /// dropped, duplicated or reordered.
    #[error(
        "frames out of order at byte {offset}: expected height {expected}, found height {found}"
    )]
    OutOfOrder {
        offset: u64,
        expected: u64,
        found: u64,
    },

    /// A frame's checksum is right but its inner lengths are inconsistent
    /// (a faulty writer).
    #[error("malformed frame at byte {offset} (height {height}): {reason}")]
    MalformedFrame {
        offset: u64,
        height: u64,
        reason: &'static str,
    },

    /// A block's parent link does not point at the previous block. This
    /// module cannot see it (it does not decode blocks); the replayer raises
    /// it with the frame's [`LogFrame::offset`] and height.
    #[error("parent link broken in frame at byte {offset} (height {height}): the block's parent is not the previous block")]
    ParentMismatch { offset: u64, height: u64 },

    /// The header to write is invalid (a field exceeds its cap, or the version
    /// is not [`FORMAT_VERSION`]).
    #[error("invalid header: {reason}")]
    InvalidHeader { reason: &'static str },

    /// An earlier write or sync failed, so the log's tail is in an unknown
    /// state; the writer refuses to append more. Reopen it with
    /// [`LogWriter::resume`].
    #[error("log writer is poisoned by an earlier I/O failure; resume the log to continue")]
    WriterPoisoned,

    /// Reading the underlying stream failed (not an end of file).
    #[error("I/O error reading the log at byte {offset}: {source}")]
    Read {
        offset: u64,
        #[source]
        source: io::Error,
    },

    /// Writing, syncing or opening failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl LogError {
    /// The byte offset the error points at, where it has one.
    pub fn offset(&self) -> Option<u64> {
        use LogError::*;
        match self {
            BadMagic { .. } => Some(0),
            UnsupportedVersion { .. } => Some(OFF_VERSION),
            UnsupportedFlags { .. } => Some(OFF_FLAGS),
            TruncatedHeader { offset, .. }
            | HeaderCorrupt { offset, .. }
            | GenesisHashMismatch { offset, .. }
            | WrongChainId { offset, .. }
            | WrongGenesis { offset, .. }
            | TruncatedFrame { offset, .. }
            | FrameHeadCorrupt { offset, .. }
            | ChecksumMismatch { offset, .. }
            | FrameTooLarge { offset, .. }
            | OutOfOrder { offset, .. }
            | MalformedFrame { offset, .. }
            | ParentMismatch { offset, .. }
            | Read { offset, .. } => Some(*offset),
            InvalidHeader { .. } | WriterPoisoned | Io(_) => None,
        }
    }

    /// The block height the error is about, where it has one (for
    /// [`LogError::OutOfOrder`], the expected height).
    pub fn height(&self) -> Option<u64> {
        use LogError::*;
        match self {
            TruncatedFrame { height, .. }
            | FrameHeadCorrupt { height, .. }
            | ChecksumMismatch { height, .. }
            | FrameTooLarge { height, .. }
            | MalformedFrame { height, .. }
            | ParentMismatch { height, .. } => Some(*height),
            OutOfOrder { expected, .. } => Some(*expected),
            _ => None,
        }
    }
}

struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> Hex<'_> {
    Hex(bytes)
}

/// The header of a log: what chain it is and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogHeader {
    /// Format version; [`FORMAT_VERSION`] for anything this module writes.
    pub version: u16,
    /// The chain id, at most [`MAX_CHAIN_ID_LEN`] bytes of UTF-8.
    pub chain_id: String,
    /// The genesis' canonical bytes (opaque here), at most [`MAX_GENESIS_LEN`].
    pub genesis: Vec<u8>,
    /// blake3 of `genesis`.
    pub genesis_hash: [u8; 32],
}

impl LogHeader {
    /// A version-[`FORMAT_VERSION`] header; computes the genesis hash.
    pub fn new(chain_id: impl Into<String>, genesis: Vec<u8>) -> Self {
        let genesis_hash = *blake3::hash(&genesis).as_bytes();
        LogHeader {
            version: FORMAT_VERSION,
            chain_id: chain_id.into(),
            genesis,
            genesis_hash,
        }
    }

    /// Encoded length of this header, in bytes: where the first frame starts.
    pub fn encoded_len(&self) -> u64 {
        HEADER_FIXED_LEN + self.chain_id.len() as u64 + self.genesis.len() as u64
    }

    /// Byte offset of the genesis hash field.
    fn genesis_hash_offset(&self) -> u64 {
        OFF_CHAIN_ID + self.chain_id.len() as u64 + 4 + self.genesis.len() as u64
    }

    /// The header's exact bytes, after checking every field against its cap
    /// and the genesis hash against the genesis bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, LogError> {
        if self.version != FORMAT_VERSION {
            return Err(LogError::UnsupportedVersion {
                found: self.version,
                supported: FORMAT_VERSION,
            });
        }
        if self.chain_id.len() > MAX_CHAIN_ID_LEN {
            return Err(LogError::InvalidHeader {
                reason: "chain id is longer than 256 bytes",
            });
        }
        if self.genesis.len() as u64 > u64::from(MAX_GENESIS_LEN) {
            return Err(LogError::InvalidHeader {
                reason: "genesis is larger than 16 MiB",
            });
        }
        let computed = *blake3::hash(&self.genesis).as_bytes();
        if computed != self.genesis_hash {
            return Err(LogError::GenesisHashMismatch {
                offset: self.genesis_hash_offset(),
                stored: self.genesis_hash,
                computed,
            });
        }
        Ok(encode_header_raw(
            self.version,
            0,
            self.chain_id.as_bytes(),
            &self.genesis,
            &self.genesis_hash,
        ))
    }

    /// Checks that this header is for `chain_id` and starts from the genesis
    /// whose hash is `genesis_hash`.
    pub fn check_genesis(&self, chain_id: &str, genesis_hash: &[u8; 32]) -> Result<(), LogError> {
        if self.chain_id != chain_id {
            return Err(LogError::WrongChainId {
                offset: OFF_CHAIN_ID_LEN,
                expected: chain_id.to_owned(),
                found: self.chain_id.clone(),
            });
        }
        if &self.genesis_hash != genesis_hash {
            return Err(LogError::WrongGenesis {
                offset: self.genesis_hash_offset(),
                expected: *genesis_hash,
                found: self.genesis_hash,
            });
        }
        Ok(())
    }
}

/// Encodes a header without validating it (tests use it to forge headers).
fn encode_header_raw(
    version: u16,
    flags: u16,
    chain_id: &[u8],
    genesis: &[u8],
    genesis_hash: &[u8; 32],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_FIXED_LEN as usize + chain_id.len() + genesis.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(chain_id.len() as u16).to_le_bytes());
    out.extend_from_slice(chain_id);
    out.extend_from_slice(&(genesis.len() as u32).to_le_bytes());
    out.extend_from_slice(genesis);
    out.extend_from_slice(genesis_hash);
    let checksum = blake3::hash(&out);
    out.extend_from_slice(checksum.as_bytes());
    out
}

/// One block as read from a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFrame {
    /// Byte offset of the frame's first byte (its length field) in the log.
    pub offset: u64,
    /// The block's height: 1 for the first frame, previous + 1 after.
    pub height: u64,
    /// The block's canonical bytes (opaque here).
    pub block: Vec<u8>,
    /// The state root the chain recorded after this block.
    pub state_root: [u8; 32],
    /// The results root the chain recorded after this block.
    pub results_root: [u8; 32],
    /// The outcome section: opaque bytes (the replayer stores the block
    /// outcome's canonical bytes), possibly empty.
    pub outcome: Vec<u8>,
}

impl LogFrame {
    /// This frame as data to append (to copy a log, or to compare).
    pub fn data(&self) -> FrameData<'_> {
        FrameData {
            height: self.height,
            block: &self.block,
            state_root: self.state_root,
            results_root: self.results_root,
            outcome: &self.outcome,
        }
    }
}

/// One block to append to a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameData<'a> {
    /// Must be the writer's [`LogWriter::next_height`].
    pub height: u64,
    /// The block's canonical bytes.
    pub block: &'a [u8],
    /// The state root the chain recorded after this block.
    pub state_root: [u8; 32],
    /// The results root the chain recorded after this block.
    pub results_root: [u8; 32],
    /// Opaque outcome bytes (may be empty).
    pub outcome: &'a [u8],
}

/// Encodes a frame that will start at `offset` (used for error reports only).
fn encode_frame(frame: &FrameData<'_>, offset: u64) -> Result<Vec<u8>, LogError> {
    let body_len = u64::from(MIN_BODY_LEN) + frame.block.len() as u64 + frame.outcome.len() as u64;
    if body_len > u64::from(MAX_FRAME_LEN) {
        return Err(LogError::FrameTooLarge {
            offset,
            height: frame.height,
            len: body_len,
            max: MAX_FRAME_LEN,
        });
    }
    let mut out = Vec::with_capacity(FRAME_HEAD_LEN + body_len as usize + FRAME_CHECKSUM_LEN);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&frame.height.to_le_bytes());
    let head_check = blake3::hash(&out);
    out.extend_from_slice(&head_check.as_bytes()[..8]);
    out.extend_from_slice(&(frame.block.len() as u32).to_le_bytes());
    out.extend_from_slice(frame.block);
    out.extend_from_slice(&frame.state_root);
    out.extend_from_slice(&frame.results_root);
    out.extend_from_slice(&(frame.outcome.len() as u32).to_le_bytes());
    out.extend_from_slice(frame.outcome);
    let checksum = blake3::hash(&out);
    out.extend_from_slice(checksum.as_bytes());
    Ok(out)
}

/// When the writer makes appended frames durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Never sync; only flush on [`LogWriter::finish`]. Durability is the
    /// caller's business ([`LogWriter::sync`]).
    Never,
    /// Sync after every frame: an appended frame survives a crash.
    #[default]
    EveryFrame,
    /// Sync after every n frames (n = 0 counts as 1): a crash loses at most
    /// the last n - 1 frames.
    Every(u32),
}

/// A byte sink a [`LogWriter`] can make durable.
pub trait LogSink: Write {
    /// Flushes and makes everything written so far durable. In-memory
    /// sinks do nothing.
    fn sync(&mut self) -> io::Result<()>;
}

impl LogSink for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

impl LogSink for BufWriter<File> {
    fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.get_ref().sync_data()
    }
}

impl LogSink for Vec<u8> {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogSink for io::Cursor<Vec<u8>> {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogSink for io::Cursor<&mut Vec<u8>> {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogSink for io::Sink {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: LogSink + ?Sized> LogSink for &mut T {
    fn sync(&mut self) -> io::Result<()> {
        (**self).sync()
    }
}

impl<T: LogSink + ?Sized> LogSink for Box<T> {
    fn sync(&mut self) -> io::Result<()> {
        (**self).sync()
    }
}

/// Appends frames to a log. Heights must come in order (1, 2, 3, ...); each
/// frame is written with a single `write_all`, and synced per the
/// [`SyncPolicy`]. After any I/O failure the writer is poisoned.
#[derive(Debug)]
pub struct LogWriter<W: LogSink> {
    sink: W,
    policy: SyncPolicy,
    offset: u64,
    next_height: u64,
    unsynced: u32,
    poisoned: bool,
}

impl<W: LogSink> LogWriter<W> {
    /// Writes `header` to `sink` (synced unless the policy is
    /// [`SyncPolicy::Never`]) and returns a writer for frame 1 on.
    pub fn new(mut sink: W, header: &LogHeader, policy: SyncPolicy) -> Result<Self, LogError> {
        let bytes = header.to_bytes()?;
        sink.write_all(&bytes)?;
        if policy != SyncPolicy::Never {
            sink.sync()?;
        }
        Ok(LogWriter {
            sink,
            policy,
            offset: bytes.len() as u64,
            next_height: FIRST_HEIGHT,
            unsynced: 0,
            poisoned: false,
        })
    }

    /// Appends one frame and returns the byte offset it starts at. The
    /// frame's height must be [`Self::next_height`] (else `OutOfOrder`) and
    /// its body at most [`MAX_FRAME_LEN`] (else `FrameTooLarge`); neither
    /// refusal writes anything or poisons the writer.
    pub fn append(&mut self, frame: &FrameData<'_>) -> Result<u64, LogError> {
        if self.poisoned {
            return Err(LogError::WriterPoisoned);
        }
        if frame.height != self.next_height {
            return Err(LogError::OutOfOrder {
                offset: self.offset,
                expected: self.next_height,
                found: frame.height,
            });
        }
        let bytes = encode_frame(frame, self.offset)?;
        self.poisoned = true;
        self.sink.write_all(&bytes)?;
        self.unsynced = self.unsynced.saturating_add(1);
        let due = match self.policy {
            SyncPolicy::Never => false,
            SyncPolicy::EveryFrame => true,
            SyncPolicy::Every(n) => self.unsynced >= n.max(1),
        };
        if due {
            self.sink.sync()?;
            self.unsynced = 0;
        }
        self.poisoned = false;
        let at = self.offset;
        self.offset += bytes.len() as u64;
        self.next_height += 1;
        Ok(at)
    }

    /// The height the next appended frame must carry.
    pub fn next_height(&self) -> u64 {
        self.next_height
    }

    /// Bytes written so far (header included): where the next frame starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The sink.
    pub fn get_ref(&self) -> &W {
        &self.sink
    }

    /// Flushes buffered bytes to the sink (no durability promise).
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.guard(|s| s.flush())
    }

    /// Flushes and makes everything appended so far durable, whatever the policy.
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.guard(|s| s.sync())?;
        self.unsynced = 0;
        Ok(())
    }

    /// Flushes, syncs unless the policy is [`SyncPolicy::Never`], and returns
    /// the sink.
    pub fn finish(mut self) -> Result<W, LogError> {
        if self.policy == SyncPolicy::Never {
            self.flush()?;
        } else {
            self.sync()?;
        }
        Ok(self.sink)
    }

    fn guard(&mut self, f: impl FnOnce(&mut W) -> io::Result<()>) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::WriterPoisoned);
        }
        self.poisoned = true;
        f(&mut self.sink)?;
        self.poisoned = false;
        Ok(())
    }
}

impl LogWriter<BufWriter<File>> {
    /// Creates a new log file at `path` (refusing to overwrite an existing
    /// file) and writes the header. Unless the policy is
    /// [`SyncPolicy::Never`], the header and, on Unix, the directory entry
    /// are synced.
    pub fn create(path: &Path, header: &LogHeader, policy: SyncPolicy) -> Result<Self, LogError> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let writer = LogWriter::new(BufWriter::new(file), header, policy)?;
        if policy != SyncPolicy::Never {
            sync_parent_dir(path)?;
        }
        Ok(writer)
    }

    /// Reopens an existing log to append after its last complete frame.
    ///
    /// The whole log is read and verified first; any corruption is returned
    /// as an error and nothing is changed. A torn last frame (what a crashed
    /// writer leaves) is cut off: the file is truncated to the end of the
    /// last complete frame and synced. Returns the writer, the log's header
    /// (check it with [`LogHeader::check_genesis`]) and the offset the torn
    /// tail was cut at, if there was one.
    pub fn resume(
        path: &Path,
        policy: SyncPolicy,
    ) -> Result<(Self, LogHeader, Option<u64>), LogError> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let opts = ReaderOptions {
            accept_torn_tail: true,
            ..ReaderOptions::default()
        };
        let (header, valid_len, next_height, torn) = {
            let mut reader = LogReader::new(BufReader::new(&file), opts)?;
            for frame in &mut reader {
                frame?;
            }
            (
                reader.header().clone(),
                reader.valid_len(),
                reader.next_height(),
                reader.torn_tail(),
            )
        };
        if torn.is_some() {
            file.set_len(valid_len)?;
            file.sync_data()?;
        }
        file.seek(SeekFrom::Start(valid_len))?;
        let writer = LogWriter {
            sink: BufWriter::new(file),
            policy,
            offset: valid_len,
            next_height,
            unsynced: 0,
            poisoned: false,
        };
        Ok((writer, header, torn))
    }
}

#[cfg(unix)]
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// How a [`LogReader`] treats the end of the log and frame sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Accept a torn last frame: if the log ends inside a frame, iteration
    /// ends cleanly before it and [`LogReader::torn_tail`] reports where it
    /// starts. Off by default: a torn frame is [`LogError::TruncatedFrame`].
    /// Damaged bytes are never accepted, with or without this flag.
    pub accept_torn_tail: bool,
    /// The largest frame body to accept, in bytes. Values above
    /// [`MAX_FRAME_LEN`] are treated as [`MAX_FRAME_LEN`].
    pub max_frame_len: u32,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            accept_torn_tail: false,
            max_frame_len: MAX_FRAME_LEN,
        }
    }
}

impl ReaderOptions {
    /// The defaults with [`ReaderOptions::accept_torn_tail`] set.
    pub fn accepting_torn_tail() -> Self {
        ReaderOptions {
            accept_torn_tail: true,
            ..ReaderOptions::default()
        }
    }
}

/// Reads into `buf` until it is full or the stream ends; returns how many
/// bytes were read. `offset` is the stream position of `buf[0]`.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8], offset: u64) -> Result<usize, LogError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(LogError::Read {
                    offset: offset + got as u64,
                    source: e,
                })
            }
        }
    }
    Ok(got)
}

/// Reads `n` bytes, in chunks so that memory grows only with bytes actually
/// present. Returns the bytes and whether all `n` were there.
fn read_bounded<R: Read>(r: &mut R, n: usize, offset: u64) -> Result<(Vec<u8>, bool), LogError> {
    let mut buf = Vec::with_capacity(n.min(READ_CHUNK));
    while buf.len() < n {
        let old = buf.len();
        let want = (n - old).min(READ_CHUNK);
        buf.resize(old + want, 0);
        let got = read_full(r, &mut buf[old..], offset + old as u64)?;
        buf.truncate(old + got);
        if got < want {
            return Ok((buf, false));
        }
    }
    Ok((buf, true))
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn arr32(b: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(&b[..32]);
    a
}

/// Reads a header from `r`, checking it field by field in the order the
/// format specifies.
fn read_header<R: Read>(r: &mut R) -> Result<LogHeader, LogError> {
    // Hashes everything read so far, for the header checksum; `pos` counts it.
    let mut seen = blake3::Hasher::new();
    let mut pos: usize;
    let truncated = |offset: usize, field| LogError::TruncatedHeader {
        offset: offset as u64,
        field,
    };

    let mut fixed = [0u8; 14];
    let got = read_full(r, &mut fixed, 0)?;
    let magic_got = got.min(8);
    if fixed[..magic_got] != MAGIC[..magic_got] {
        return Err(LogError::BadMagic {
            found: fixed[..magic_got].to_vec(),
        });
    }
    if got < 8 {
        return Err(truncated(got, "magic"));
    }
    if got < 10 {
        return Err(truncated(got, "format version"));
    }
    let version = le_u16(&fixed[8..10]);
    if version != FORMAT_VERSION {
        return Err(LogError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if got < 12 {
        return Err(truncated(got, "flags"));
    }
    let flags = le_u16(&fixed[10..12]);
    if flags != 0 {
        return Err(LogError::UnsupportedFlags { found: flags });
    }
    if got < 14 {
        return Err(truncated(got, "chain id length"));
    }
    seen.update(&fixed);
    pos = fixed.len();
    let chain_id_len = le_u16(&fixed[12..14]) as usize;
    if chain_id_len > MAX_CHAIN_ID_LEN {
        return Err(LogError::HeaderCorrupt {
            offset: OFF_CHAIN_ID_LEN,
            reason: "chain id length exceeds 256 bytes",
        });
    }

    let (chain_id, complete) = read_bounded(r, chain_id_len, OFF_CHAIN_ID)?;
    seen.update(&chain_id);
    pos += chain_id.len();
    if !complete {
        return Err(truncated(pos, "chain id"));
    }

    let at = pos;
    let mut len4 = [0u8; 4];
    let got = read_full(r, &mut len4, at as u64)?;
    if got < 4 {
        return Err(truncated(at + got, "genesis length"));
    }
    seen.update(&len4);
    pos += 4;
    let genesis_len = le_u32(&len4);
    if genesis_len > MAX_GENESIS_LEN {
        return Err(LogError::HeaderCorrupt {
            offset: at as u64,
            reason: "genesis length exceeds 16 MiB",
        });
    }

    let (genesis, complete) = read_bounded(r, genesis_len as usize, pos as u64)?;
    seen.update(&genesis);
    pos += genesis.len();
    if !complete {
        return Err(truncated(pos, "genesis"));
    }

    let hash_at = pos;
    let mut tail = [0u8; 64];
    let got = read_full(r, &mut tail, hash_at as u64)?;
    if got < 32 {
        return Err(truncated(hash_at + got, "genesis hash"));
    }
    if got < 64 {
        return Err(truncated(hash_at + got, "header checksum"));
    }
    seen.update(&tail[..32]);
    if seen.finalize().as_bytes()[..] != tail[32..] {
        return Err(LogError::HeaderCorrupt {
            offset: (hash_at + 32) as u64,
            reason: "header checksum mismatch",
        });
    }
    let chain_id = String::from_utf8(chain_id).map_err(|_| LogError::HeaderCorrupt {
        offset: OFF_CHAIN_ID,
        reason: "chain id is not UTF-8",
    })?;
    let stored = arr32(&tail[..32]);
    let computed = *blake3::hash(&genesis).as_bytes();
    if stored != computed {
        return Err(LogError::GenesisHashMismatch {
            offset: hash_at as u64,
            stored,
            computed,
        });
    }
    Ok(LogHeader {
        version,
        chain_id,
        genesis,
        genesis_hash: stored,
    })
}

/// Streams the frames of a log from any [`Read`], verifying each one.
///
/// Iteration yields frames in order; the first error is yielded once and then
/// iteration stops (the iterator is fused). Wrap files in a [`BufReader`]
/// (or use [`LogReader::open`]): frame heads are read 20 bytes at a time.
#[derive(Debug)]
pub struct LogReader<R: Read> {
    inner: R,
    opts: ReaderOptions,
    header: LogHeader,
    pos: u64,
    valid_len: u64,
    next_height: u64,
    torn_tail: Option<u64>,
    done: bool,
}

impl<R: Read> LogReader<R> {
    /// Reads and verifies the header.
    pub fn new(mut inner: R, opts: ReaderOptions) -> Result<Self, LogError> {
        let header = read_header(&mut inner)?;
        let pos = header.encoded_len();
        Ok(LogReader {
            inner,
            opts,
            header,
            pos,
            valid_len: pos,
            next_height: FIRST_HEIGHT,
            torn_tail: None,
            done: false,
        })
    }

    /// The verified header.
    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    /// Checks that the log is for `chain_id` and starts from the genesis whose
    /// hash is `genesis_hash` ([`LogError::WrongChainId`],
    /// [`LogError::WrongGenesis`]).
    pub fn expect_genesis(&self, chain_id: &str, genesis_hash: &[u8; 32]) -> Result<(), LogError> {
        self.header.check_genesis(chain_id, genesis_hash)
    }

    /// Where the torn last frame starts, if iteration ended at one (only with
    /// [`ReaderOptions::accept_torn_tail`]).
    pub fn torn_tail(&self) -> Option<u64> {
        self.torn_tail
    }

    /// Bytes consumed from the stream so far, torn tail included.
    pub fn bytes_read(&self) -> u64 {
        self.pos
    }

    /// Length of the verified prefix: the header and every frame yielded so
    /// far. A torn log is repaired by truncating it to this length.
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    /// The height the next frame must carry (1 + the last height yielded).
    pub fn next_height(&self) -> u64 {
        self.next_height
    }

    /// The stream, positioned wherever reading stopped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn torn(
        &mut self,
        offset: u64,
        height: u64,
        have: u64,
        need: u64,
    ) -> Result<Option<LogFrame>, LogError> {
        if self.opts.accept_torn_tail {
            self.torn_tail = Some(offset);
            Ok(None)
        } else {
            Err(LogError::TruncatedFrame {
                offset,
                height,
                have,
                need,
            })
        }
    }

    fn read_frame(&mut self) -> Result<Option<LogFrame>, LogError> {
        let offset = self.pos;
        let height = self.next_height;

        let mut head = [0u8; FRAME_HEAD_LEN];
        let got = read_full(&mut self.inner, &mut head, offset)?;
        self.pos += got as u64;
        if got == 0 {
            return Ok(None);
        }
        if got < FRAME_HEAD_LEN {
            return self.torn(offset, height, got as u64, FRAME_HEAD_LEN as u64);
        }
        let body_len = le_u32(&head[0..4]);
        let found = le_u64(&head[4..12]);
        if blake3::hash(&head[..12]).as_bytes()[..8] != head[12..20] {
            return Err(LogError::FrameHeadCorrupt { offset, height });
        }
        if found != height {
            return Err(LogError::OutOfOrder {
                offset,
                expected: height,
                found,
            });
        }
        let max = self.opts.max_frame_len.min(MAX_FRAME_LEN);
        if body_len > max {
            return Err(LogError::FrameTooLarge {
                offset,
                height,
                len: u64::from(body_len),
                max,
            });
        }
        if body_len < MIN_BODY_LEN {
            return Err(LogError::MalformedFrame {
                offset,
                height,
                reason: "body shorter than its fixed fields (72 bytes)",
            });
        }

        let body_len = body_len as usize;
        let need = body_len + FRAME_CHECKSUM_LEN;
        let (rest, complete) = read_bounded(&mut self.inner, need, self.pos)?;
        self.pos += rest.len() as u64;
        if !complete {
            let have = (FRAME_HEAD_LEN + rest.len()) as u64;
            return self.torn(offset, height, have, (FRAME_HEAD_LEN + need) as u64);
        }
        let (body, stored) = rest.split_at(body_len);
        let mut hasher = blake3::Hasher::new();
        hasher.update(&head);
        hasher.update(body);
        if hasher.finalize().as_bytes()[..] != stored[..] {
            return Err(LogError::ChecksumMismatch { offset, height });
        }

        let malformed = |reason| LogError::MalformedFrame {
            offset,
            height,
            reason,
        };
        let block_len = le_u32(&body[0..4]) as usize;
        let roots_at = 4 + block_len;
        if roots_at + 64 + 4 > body_len {
            return Err(malformed("block length overruns the body"));
        }
        let outcome_len = le_u32(&body[roots_at + 64..roots_at + 68]) as usize;
        let outcome_at = roots_at + 68;
        if outcome_at + outcome_len != body_len {
            return Err(malformed(
                "section lengths do not add up to the body length",
            ));
        }
        let state_root = arr32(&body[roots_at..]);
        let results_root = arr32(&body[roots_at + 32..]);
        let outcome = body[outcome_at..].to_vec();
        // Reuse the read buffer for the block (usually the bulk of the frame)
        // instead of copying it.
        let mut block = rest;
        block.truncate(roots_at);
        block.drain(..4);
        let frame = LogFrame {
            offset,
            height,
            block,
            state_root,
            results_root,
            outcome,
        };
        self.next_height += 1;
        self.valid_len = self.pos;
        Ok(Some(frame))
    }
}

impl LogReader<BufReader<File>> {
    /// Opens a log file (buffered) and reads its header.
    pub fn open(path: &Path, opts: ReaderOptions) -> Result<Self, LogError> {
        LogReader::new(BufReader::new(File::open(path)?), opts)
    }
}

impl<R: Read> Iterator for LogReader<R> {
    type Item = Result<LogFrame, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_frame() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<R: Read> std::iter::FusedIterator for LogReader<R> {}

/// Reads a whole in-memory log. With [`ReaderOptions::accept_torn_tail`], a
/// torn last frame is silently left out (use [`LogReader`] to learn where).
pub fn read_all(bytes: &[u8], opts: ReaderOptions) -> Result<(LogHeader, Vec<LogFrame>), LogError> {
    let mut reader = LogReader::new(bytes, opts)?;
    let frames = (&mut reader).collect::<Result<Vec<_>, _>>()?;
    Ok((reader.header, frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> LogHeader {
        LogHeader::new("aivm-test", b"genesis".to_vec())
    }

    fn root(tag: u8, h: u64) -> [u8; 32] {
        let mut r = [tag; 32];
        r[..8].copy_from_slice(&h.to_le_bytes());
        r
    }

    struct Owned {
        height: u64,
        block: Vec<u8>,
        outcome: Vec<u8>,
    }

    fn owned(n: u64) -> Vec<Owned> {
        (1..=n)
            .map(|h| Owned {
                height: h,
                block: format!("block {h}").into_bytes(),
                outcome: if h % 2 == 0 {
                    Vec::new()
                } else {
                    vec![h as u8; 5]
                },
            })
            .collect()
    }

    fn data(o: &Owned) -> FrameData<'_> {
        FrameData {
            height: o.height,
            block: &o.block,
            state_root: root(0xaa, o.height),
            results_root: root(0xbb, o.height),
            outcome: &o.outcome,
        }
    }

    /// A log of `n` frames, plus the offset each frame starts at and the end.
    fn log(n: u64) -> (Vec<u8>, Vec<u64>) {
        let frames = owned(n);
        let mut w = LogWriter::new(Vec::new(), &header(), SyncPolicy::EveryFrame).unwrap();
        let mut offsets = Vec::new();
        for f in &frames {
            offsets.push(w.append(&data(f)).unwrap());
        }
        let end = w.offset();
        offsets.push(end);
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len() as u64, end);
        (bytes, offsets)
    }

    fn strict() -> ReaderOptions {
        ReaderOptions::default()
    }

    fn torn_ok() -> ReaderOptions {
        ReaderOptions::accepting_torn_tail()
    }

    #[test]
    fn round_trip_in_memory() {
        let (bytes, offsets) = log(3);
        let (h, frames) = read_all(&bytes, strict()).unwrap();
        assert_eq!(h, header());
        assert_eq!(h.encoded_len(), offsets[0]);
        let want = owned(3);
        assert_eq!(frames.len(), 3);
        for (i, (f, w)) in frames.iter().zip(&want).enumerate() {
            assert_eq!(f.offset, offsets[i]);
            assert_eq!(f.data(), data(w));
        }
    }

    #[test]
    fn empty_log_has_no_frames() {
        let w = LogWriter::new(Vec::new(), &header(), SyncPolicy::Never).unwrap();
        let bytes = w.finish().unwrap();
        let mut r = LogReader::new(&bytes[..], strict()).unwrap();
        assert!(r.next().is_none());
        assert_eq!(r.valid_len(), bytes.len() as u64);
        assert_eq!(r.next_height(), 1);
    }

    #[test]
    fn round_trip_via_file_and_resume_after_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.aivmlog");
        let frames = owned(4);
        let mut w = LogWriter::create(&path, &header(), SyncPolicy::Every(2)).unwrap();
        for f in &frames[..3] {
            w.append(&data(f)).unwrap();
        }
        w.finish().unwrap();
        // create refuses to overwrite.
        assert!(matches!(
            LogWriter::create(&path, &header(), SyncPolicy::Never),
            Err(LogError::Io(_))
        ));

        let r = LogReader::open(&path, strict()).unwrap();
        r.expect_genesis("aivm-test", &header().genesis_hash)
            .unwrap();
        let got: Vec<_> = r.collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 3);

        // Simulate a crash in the middle of appending frame 4.
        let full_len = std::fs::metadata(&path).unwrap().len();
        let frame4 = encode_frame(&data(&frames[3]), full_len).unwrap();
        {
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(&frame4[..frame4.len() / 2]).unwrap();
        }
        assert!(matches!(
            LogReader::open(&path, strict()).unwrap().last(),
            Some(Err(LogError::TruncatedFrame { offset, height: 4, .. })) if offset == full_len
        ));

        let (mut w, h, torn) = LogWriter::resume(&path, SyncPolicy::EveryFrame).unwrap();
        assert_eq!(h, header());
        assert_eq!(torn, Some(full_len));
        assert_eq!(w.next_height(), 4);
        assert_eq!(w.append(&data(&frames[3])).unwrap(), full_len);
        w.finish().unwrap();

        let bytes = std::fs::read(&path).unwrap();
        let (_, got) = read_all(&bytes, strict()).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[3].data(), data(&frames[3]));
    }

    #[test]
    fn every_single_byte_flip_is_refused() {
        let (bytes, _) = log(3);
        for pos in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[pos] ^= mask;
                for opts in [strict(), torn_ok()] {
                    let res = read_all(&bad, opts);
                    assert!(
                        res.is_err(),
                        "flip {mask:#x} at byte {pos} accepted ({opts:?})"
                    );
                }
            }
        }
    }

    #[test]
    fn flip_errors_name_the_right_place() {
        let (bytes, offsets) = log(3);
        // A flipped bit in frame 2's block bytes.
        let mut bad = bytes.clone();
        bad[offsets[1] as usize + FRAME_HEAD_LEN + 6] ^= 4;
        match read_all(&bad, strict()) {
            Err(LogError::ChecksumMismatch { offset, height }) => {
                assert_eq!((offset, height), (offsets[1], 2))
            }
            other => panic!("{other:?}"),
        }
        // A flipped bit in frame 3's length field.
        let mut bad = bytes.clone();
        bad[offsets[2] as usize] ^= 1;
        match read_all(&bad, torn_ok()) {
            Err(LogError::FrameHeadCorrupt { offset, height }) => {
                assert_eq!((offset, height), (offsets[2], 3))
            }
            other => panic!("{other:?}"),
        }
        // A flipped bit in the chain id.
        let mut bad = bytes.clone();
        bad[OFF_CHAIN_ID as usize] ^= 1;
        assert!(matches!(
            read_all(&bad, strict()),
            Err(LogError::HeaderCorrupt {
                reason: "header checksum mismatch",
                ..
            })
        ));
    }

    #[test]
    fn truncation_at_every_length() {
        let (bytes, offsets) = log(3);
        let header_len = offsets[0] as usize;
        for cut in 0..bytes.len() {
            let short = &bytes[..cut];
            let strict_res = read_all(short, strict());
            let mut reader = LogReader::new(short, torn_ok());
            if cut < header_len {
                assert!(
                    matches!(strict_res, Err(LogError::TruncatedHeader { .. })),
                    "cut {cut}: {strict_res:?}"
                );
                assert!(matches!(reader, Err(LogError::TruncatedHeader { .. })));
                continue;
            }
            // Number of whole frames before the cut.
            let whole = offsets[1..]
                .iter()
                .filter(|&&end| end as usize <= cut)
                .count();
            let frame_start = offsets[whole];
            let reader = reader.as_mut().unwrap();
            let got: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
            assert_eq!(got.len(), whole, "cut {cut}");
            if frame_start as usize == cut {
                // A cut on a frame boundary is a valid, shorter log.
                assert_eq!(strict_res.unwrap().1.len(), whole);
                assert_eq!(reader.torn_tail(), None);
            } else {
                match strict_res {
                    Err(LogError::TruncatedFrame {
                        offset,
                        height,
                        have,
                        ..
                    }) => {
                        assert_eq!(offset, frame_start);
                        assert_eq!(height, whole as u64 + 1);
                        assert_eq!(have, cut as u64 - frame_start);
                    }
                    other => panic!("cut {cut}: {other:?}"),
                }
                assert_eq!(reader.torn_tail(), Some(frame_start), "cut {cut}");
                assert_eq!(reader.valid_len(), frame_start);
                assert_eq!(reader.bytes_read(), cut as u64);
            }
        }
    }

    #[test]
    fn checksum_mismatch_on_last_frame_is_not_a_torn_tail() {
        let (mut bytes, offsets) = log(3);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x10;
        assert!(matches!(
            read_all(&bytes, torn_ok()),
            Err(LogError::ChecksumMismatch { offset, height: 3 }) if offset == offsets[2]
        ));
        // And trailing garbage of a whole frame head or more is corruption too.
        let (mut bytes, offsets) = log(2);
        bytes.extend_from_slice(&[0u8; 40]);
        assert!(matches!(
            read_all(&bytes, torn_ok()),
            Err(LogError::FrameHeadCorrupt { offset, height: 3 }) if offset == offsets[2]
        ));
    }

    #[test]
    fn dropped_duplicated_and_swapped_frames_are_out_of_order() {
        let (bytes, o) = log(3);
        let (h, f1, f2, f3) = (
            &bytes[..o[0] as usize],
            &bytes[o[0] as usize..o[1] as usize],
            &bytes[o[1] as usize..o[2] as usize],
            &bytes[o[2] as usize..o[3] as usize],
        );
        let check = |parts: &[&[u8]], at: u64, expected: u64, found: u64| {
            let bad = parts.concat();
            match read_all(&bad, torn_ok()) {
                Err(LogError::OutOfOrder {
                    offset,
                    expected: e,
                    found: f,
                }) => assert_eq!((offset, e, f), (at, expected, found)),
                other => panic!("{other:?}"),
            }
        };
        check(&[h, f1, f3], o[1], 2, 3); // dropped
        check(&[h, f1, f2, f2, f3], o[2], 3, 2); // duplicated
        check(&[h, f2, f1, f3], o[0], 1, 2); // swapped
        check(&[h, f1, f1], o[1], 2, 1); // repeated first
    }

    #[test]
    fn huge_length_is_refused_without_allocating() {
        let (bytes, o) = log(1);
        // A frame head claiming a 4 GiB - 1 body, with a valid head check, and
        // nothing behind it.
        let mut huge = bytes.clone();
        let mut head = Vec::new();
        head.extend_from_slice(&u32::MAX.to_le_bytes());
        head.extend_from_slice(&2u64.to_le_bytes());
        let check = blake3::hash(&head);
        head.extend_from_slice(&check.as_bytes()[..8]);
        huge.extend_from_slice(&head);
        match read_all(&huge, strict()) {
            Err(LogError::FrameTooLarge {
                offset,
                height,
                len,
                max,
            }) => {
                assert_eq!(
                    (offset, height, len, max),
                    (o[1], 2, u64::from(u32::MAX), MAX_FRAME_LEN)
                )
            }
            other => panic!("{other:?}"),
        }
        // A lower configured cap applies; a higher one is clamped.
        let small = ReaderOptions {
            max_frame_len: 80,
            ..strict()
        };
        assert!(matches!(
            read_all(&bytes, small),
            Err(LogError::FrameTooLarge {
                max: 80,
                height: 1,
                ..
            })
        ));
        let big = ReaderOptions {
            max_frame_len: u32::MAX,
            ..strict()
        };
        assert!(matches!(
            read_all(&huge, big),
            Err(LogError::FrameTooLarge {
                max: MAX_FRAME_LEN,
                ..
            })
        ));

        // A length just under the cap on a short stream: reading stops at the
        // end of the stream (the chunked read never reserves the claimed 64 MiB).
        let mut near = bytes.clone();
        let mut head = Vec::new();
        head.extend_from_slice(&MAX_FRAME_LEN.to_le_bytes());
        head.extend_from_slice(&2u64.to_le_bytes());
        let check = blake3::hash(&head);
        head.extend_from_slice(&check.as_bytes()[..8]);
        near.extend_from_slice(&head);
        near.extend_from_slice(&[7u8; 100]);
        assert!(matches!(
            read_all(&near, strict()),
            Err(LogError::TruncatedFrame {
                have: 120,
                height: 2,
                ..
            })
        ));
    }

    #[test]
    fn header_errors() {
        let (bytes, _) = log(1);

        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(matches!(
            read_all(&bad, strict()),
            Err(LogError::BadMagic { .. })
        ));
        assert!(matches!(
            read_all(b"not a log at all", strict()),
            Err(LogError::BadMagic { .. })
        ));
        assert!(matches!(
            read_all(b"AIVM", strict()),
            Err(LogError::TruncatedHeader {
                offset: 4,
                field: "magic"
            })
        ));
        assert!(matches!(
            read_all(b"", strict()),
            Err(LogError::TruncatedHeader { offset: 0, .. })
        ));

        let mut newer = bytes.clone();
        newer[8..10].copy_from_slice(&2u16.to_le_bytes());
        assert!(matches!(
            read_all(&newer, strict()),
            Err(LogError::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        ));
        // Version is judged before anything else in the header.
        assert!(matches!(
            read_all(&newer[..10], strict()),
            Err(LogError::UnsupportedVersion { found: 2, .. })
        ));

        let mut flagged = bytes.clone();
        flagged[10] = 1;
        assert!(matches!(
            read_all(&flagged, strict()),
            Err(LogError::UnsupportedFlags { found: 1 })
        ));

        let mut long_id = bytes.clone();
        long_id[12..14].copy_from_slice(&257u16.to_le_bytes());
        assert!(matches!(
            read_all(&long_id, strict()),
            Err(LogError::HeaderCorrupt { offset: 12, .. })
        ));

        let mut long_genesis = bytes.clone();
        let at = OFF_CHAIN_ID as usize + "aivm-test".len();
        long_genesis[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_all(&long_genesis, strict()),
            Err(LogError::HeaderCorrupt { offset, .. }) if offset == at as u64
        ));

        // A header whose checksum is right but whose genesis hash is not.
        let forged = encode_header_raw(1, 0, b"aivm-test", b"genesis", &[9u8; 32]);
        match read_all(&forged, strict()) {
            Err(LogError::GenesisHashMismatch {
                offset,
                stored,
                computed,
            }) => {
                assert_eq!(offset, header().genesis_hash_offset());
                assert_eq!(stored, [9u8; 32]);
                assert_eq!(computed, header().genesis_hash);
            }
            other => panic!("{other:?}"),
        }
        // Non-UTF-8 chain id behind a valid checksum.
        let bad_utf8 = encode_header_raw(1, 0, &[0xff, 0xfe], b"g", blake3::hash(b"g").as_bytes());
        assert!(matches!(
            read_all(&bad_utf8, strict()),
            Err(LogError::HeaderCorrupt {
                reason: "chain id is not UTF-8",
                ..
            })
        ));
    }

    #[test]
    fn wrong_genesis_and_chain_id() {
        let (bytes, _) = log(1);
        let r = LogReader::new(&bytes[..], strict()).unwrap();
        let other = *blake3::hash(b"another genesis").as_bytes();
        match r.expect_genesis("aivm-test", &other) {
            Err(LogError::WrongGenesis {
                offset,
                expected,
                found,
            }) => {
                assert_eq!(offset, header().genesis_hash_offset());
                assert_eq!(expected, other);
                assert_eq!(found, header().genesis_hash);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.expect_genesis("aivm-main", &header().genesis_hash),
            Err(LogError::WrongChainId { .. })
        ));
        r.expect_genesis("aivm-test", &header().genesis_hash)
            .unwrap();
    }

    #[test]
    fn writer_refusals() {
        let mut w = LogWriter::new(Vec::new(), &header(), SyncPolicy::Never).unwrap();
        let o = owned(2);
        assert!(matches!(
            w.append(&data(&o[1])),
            Err(LogError::OutOfOrder {
                expected: 1,
                found: 2,
                ..
            })
        ));
        w.append(&data(&o[0])).unwrap();
        // Refusals write nothing and do not poison.
        let big = vec![0u8; MAX_FRAME_LEN as usize];
        let too_big = FrameData {
            block: &big,
            ..data(&o[1])
        };
        assert!(matches!(
            w.append(&too_big),
            Err(LogError::FrameTooLarge { height: 2, .. })
        ));
        w.append(&data(&o[1])).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(read_all(&bytes, strict()).unwrap().1.len(), 2);

        let long = LogHeader::new("x".repeat(257), Vec::new());
        assert!(matches!(
            LogWriter::new(Vec::new(), &long, SyncPolicy::Never),
            Err(LogError::InvalidHeader { .. })
        ));
        let mut lying = header();
        lying.genesis_hash = [0; 32];
        assert!(matches!(
            LogWriter::new(Vec::new(), &lying, SyncPolicy::Never),
            Err(LogError::GenesisHashMismatch { .. })
        ));
        let mut v2 = header();
        v2.version = 2;
        assert!(matches!(
            LogWriter::new(Vec::new(), &v2, SyncPolicy::Never),
            Err(LogError::UnsupportedVersion { found: 2, .. })
        ));
    }

    /// Counts syncs; fails writes once `fail_after` bytes are written.
    #[derive(Default)]
    struct Probe {
        bytes: Vec<u8>,
        syncs: u32,
        fail_after: Option<usize>,
    }

    impl Write for Probe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(limit) = self.fail_after {
                if self.bytes.len() + buf.len() > limit {
                    return Err(io::Error::other("disk full"));
                }
            }
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl LogSink for Probe {
        fn sync(&mut self) -> io::Result<()> {
            self.syncs += 1;
            Ok(())
        }
    }

    #[test]
    fn sync_policies() {
        let frames = owned(5);
        for (policy, header_syncs, frame_syncs, finish_syncs) in [
            (SyncPolicy::Never, 0, 0, 0),
            (SyncPolicy::EveryFrame, 1, 5, 1),
            (SyncPolicy::Every(2), 1, 2, 1),
            (SyncPolicy::Every(0), 1, 5, 1),
        ] {
            let mut w = LogWriter::new(Probe::default(), &header(), policy).unwrap();
            assert_eq!(w.get_ref().syncs, header_syncs, "{policy:?}");
            for f in &frames {
                w.append(&data(f)).unwrap();
            }
            assert_eq!(w.get_ref().syncs, header_syncs + frame_syncs, "{policy:?}");
            let p = w.finish().unwrap();
            assert_eq!(
                p.syncs,
                header_syncs + frame_syncs + finish_syncs,
                "{policy:?}"
            );
        }
    }

    #[test]
    fn io_failure_poisons_the_writer() {
        let probe = Probe {
            fail_after: Some(header().encoded_len() as usize + 10),
            ..Probe::default()
        };
        let mut w = LogWriter::new(probe, &header(), SyncPolicy::Never).unwrap();
        let o = owned(1);
        assert!(matches!(w.append(&data(&o[0])), Err(LogError::Io(_))));
        assert!(matches!(
            w.append(&data(&o[0])),
            Err(LogError::WriterPoisoned)
        ));
        assert!(matches!(w.sync(), Err(LogError::WriterPoisoned)));
    }

    /// Returns one byte per read, with an `Interrupted` between, then fails
    /// with a real error at `fail_at`.
    struct Trickle<'a> {
        data: &'a [u8],
        pos: usize,
        interrupt: bool,
        fail_at: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.pos == self.fail_at {
                return Err(io::Error::other("bad sector"));
            }
            if self.pos == self.data.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.data[self.pos];
            self.pos += 1;
            Ok(1)
        }
    }

    #[test]
    fn short_reads_interruptions_and_read_errors() {
        let (bytes, o) = log(3);
        let r = Trickle {
            data: &bytes,
            pos: 0,
            interrupt: false,
            fail_at: usize::MAX,
        };
        let frames: Vec<_> = LogReader::new(r, strict())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(frames, read_all(&bytes, strict()).unwrap().1);

        let fail_at = o[1] as usize + 30;
        let r = Trickle {
            data: &bytes,
            pos: 0,
            interrupt: false,
            fail_at,
        };
        let mut reader = LogReader::new(r, strict()).unwrap();
        assert!(reader.next().unwrap().is_ok());
        match reader.next() {
            Some(Err(LogError::Read { offset, .. })) => assert_eq!(offset, fail_at as u64),
            other => panic!("{other:?}"),
        }
        assert!(reader.next().is_none(), "fused after an error");
    }

    #[test]
    fn errors_report_offset_and_height() {
        let e = LogError::ChecksumMismatch {
            offset: 117,
            height: 2,
        };
        assert_eq!((e.offset(), e.height()), (Some(117), Some(2)));
        assert_eq!(
            e.to_string(),
            "checksum mismatch in frame at byte 117 (height 2)"
        );
        let e = LogError::ParentMismatch {
            offset: 300,
            height: 3,
        };
        assert_eq!((e.offset(), e.height()), (Some(300), Some(3)));
        let e = LogError::WrongGenesis {
            offset: 30,
            expected: [0xab; 32],
            found: [0; 32],
        };
        assert!(e.to_string().contains(&"ab".repeat(32)));
    }

    /// The worked example in docs/LOG-FORMAT.md, byte for byte. If this test
    /// fails, the format changed: that needs a new FORMAT_VERSION, not a new
    /// golden value.
    #[test]
    fn golden_bytes_match_the_spec() {
        let h = LogHeader::new("aivm-test", b"genesis".to_vec());
        let bytes = h.to_bytes().unwrap();
        assert_eq!(bytes.len(), 98);
        assert_eq!(hex(&bytes).to_string(), GOLDEN_HEADER.concat());

        let frame = FrameData {
            height: 1,
            block: b"b1",
            state_root: [0x11; 32],
            results_root: [0x22; 32],
            outcome: b"",
        };
        let f = encode_frame(&frame, 98).unwrap();
        assert_eq!(f.len(), FRAME_HEAD_LEN + 74 + FRAME_CHECKSUM_LEN);
        assert_eq!(hex(&f).to_string(), GOLDEN_FRAME.concat());

        let mut log = bytes;
        log.extend_from_slice(&f);
        let (_, frames) = read_all(&log, ReaderOptions::default()).unwrap();
        assert_eq!(frames[0].data(), frame);
        assert_eq!(frames[0].offset, 98);
    }

    /// Header of chain "aivm-test" with genesis b"genesis", field by field.
    const GOLDEN_HEADER: [&str; 9] = [
        "4149564d4c4f4700",
        "0100",
        "0000",
        "0900",
        "6169766d2d74657374",
        "07000000",
        "67656e65736973",
        "df840a304e772ef4cdfb23293d8adadde8d43567bde4b0190c3d954f696f0b0a",
        "f5b889df9f2a81a61b408365dd8729aa61919c4507cbb2f969a542e712c3b336",
    ];

    /// Frame 1 with block b"b1", roots 0x11.. and 0x22.., empty outcome.
    const GOLDEN_FRAME: [&str; 9] = [
        "4a000000",
        "0100000000000000",
        "faa0a61b67c71442",
        "02000000",
        "6231",
        "1111111111111111111111111111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "00000000",
        "03f879e8b1d4406bb4810483ec8f0a04cd21fef1dcbd9d4ef578d1621d237f61",
    ];

    /// (block, state root, results root, outcome)
    type Arb = (Vec<u8>, [u8; 32], [u8; 32], Vec<u8>);

    fn arb_frames() -> impl Strategy<Value = Vec<Arb>> {
        prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 0..300),
                any::<[u8; 32]>(),
                any::<[u8; 32]>(),
                prop::collection::vec(any::<u8>(), 0..100),
            ),
            0..8,
        )
    }

    proptest! {
        #[test]
        fn random_frames_round_trip(
            chain_id in "[a-z0-9-]{0,40}",
            genesis in prop::collection::vec(any::<u8>(), 0..200),
            frames in arb_frames(),
        ) {
            let h = LogHeader::new(chain_id, genesis);
            let mut w = LogWriter::new(Vec::new(), &h, SyncPolicy::Never).unwrap();
            let mut offsets = Vec::new();
            for (i, (block, s, r, outcome)) in frames.iter().enumerate() {
                offsets.push(w.append(&FrameData {
                    height: i as u64 + 1,
                    block,
                    state_root: *s,
                    results_root: *r,
                    outcome,
                }).unwrap());
            }
            let bytes = w.finish().unwrap();
            let (got_h, got) = read_all(&bytes, ReaderOptions::default()).unwrap();
            prop_assert_eq!(got_h, h);
            prop_assert_eq!(got.len(), frames.len());
            for (i, (f, (block, s, r, outcome))) in got.iter().zip(&frames).enumerate() {
                prop_assert_eq!(f.offset, offsets[i]);
                prop_assert_eq!(f.height, i as u64 + 1);
                prop_assert_eq!(&f.block, block);
                prop_assert_eq!(&f.state_root, s);
                prop_assert_eq!(&f.results_root, r);
                prop_assert_eq!(&f.outcome, outcome);
            }
        }

        #[test]
        fn random_flip_is_refused(
            frames in arb_frames(),
            pos in any::<prop::sample::Index>(),
            mask in 1u8..=255,
        ) {
            let h = header();
            let mut w = LogWriter::new(Vec::new(), &h, SyncPolicy::Never).unwrap();
            for (i, (block, s, r, outcome)) in frames.iter().enumerate() {
                w.append(&FrameData {
                    height: i as u64 + 1,
                    block,
                    state_root: *s,
                    results_root: *r,
                    outcome,
                }).unwrap();
            }
            let mut bytes = w.finish().unwrap();
            let at = pos.index(bytes.len());
            bytes[at] ^= mask;
            prop_assert!(read_all(&bytes, ReaderOptions::accepting_torn_tail()).is_err());
        }
    }
}
