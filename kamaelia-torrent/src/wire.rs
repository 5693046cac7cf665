//! The peer wire protocol (BEP 3): the handshake and the length-prefixed messages, built and
//! parsed as bytes, with the limits a hostile peer cannot get past. Pure: no I/O.
//!
//! A [`Decoder`] is fed whatever bytes arrive and hands back complete messages; it never
//! allocates more than one message's worth, and a message longer than [`MAX_MESSAGE`] is an
//! error (the connection should be dropped).

use std::fmt;
use std::sync::Arc;

use crate::metainfo::InfoHash;
use crate::tracker::announce::PeerId;

/// The protocol string of the handshake.
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// The length of a handshake.
pub const HANDSHAKE_LEN: usize = 68;

/// The largest block a peer may ask for or send (BEP 3 clients use 16 KiB; 128 KiB is the
/// common upper limit).
pub const MAX_BLOCK: u32 = 128 * 1024;

/// The longest message accepted: a piece message of the largest block, or a bitfield for a
/// torrent of up to 2^21 pieces.
pub const MAX_MESSAGE: u32 = 2 * 1024 * 1024 / 8 + 1 + MAX_BLOCK + 9;

/// The handshake's reserved bits: the extension protocol (BEP 10) bit is ours to set or not;
/// unknown bits from peers are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The eight reserved bytes.
    pub reserved: [u8; 8],
    /// The torrent.
    pub info_hash: InfoHash,
    /// The peer.
    pub peer_id: PeerId,
}

impl Handshake {
    /// A handshake with no extensions announced.
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Handshake {
        Handshake {
            reserved: [0; 8],
            info_hash,
            peer_id,
        }
    }

    /// The 68 bytes.
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        let mut b = [0u8; HANDSHAKE_LEN];
        b[0] = 19;
        b[1..20].copy_from_slice(PROTOCOL);
        b[20..28].copy_from_slice(&self.reserved);
        b[28..48].copy_from_slice(&self.info_hash.0);
        b[48..68].copy_from_slice(&self.peer_id.0);
        b
    }

    /// Parses a handshake from the first 68 bytes of `b`. `Ok(None)` if fewer have arrived.
    pub fn parse(b: &[u8]) -> Result<Option<Handshake>, WireError> {
        // Check what has arrived so far, so that a stranger is dropped at once.
        let known = b.len().min(20);
        let mut expected = [0u8; 20];
        expected[0] = 19;
        expected[1..].copy_from_slice(PROTOCOL);
        if b[..known] != expected[..known] {
            return Err(WireError::NotBitTorrent);
        }
        if b.len() < HANDSHAKE_LEN {
            return Ok(None);
        }
        Ok(Some(Handshake {
            reserved: b[20..28].try_into().expect("8 bytes"),
            info_hash: InfoHash(b[28..48].try_into().expect("20 bytes")),
            peer_id: PeerId(b[48..68].try_into().expect("20 bytes")),
        }))
    }
}

/// One peer wire message.
#[derive(Clone, PartialEq, Eq)]
pub enum WireMessage {
    /// A zero-length message.
    KeepAlive,
    /// id 0.
    Choke,
    /// id 1.
    Unchoke,
    /// id 2.
    Interested,
    /// id 3.
    NotInterested,
    /// id 4: the sender has this piece.
    Have(u32),
    /// id 5: the pieces the sender has, one bit each, high bit first.
    Bitfield(Vec<u8>),
    /// id 6: please send this block.
    Request {
        /// Piece index.
        index: u32,
        /// Offset within the piece.
        begin: u32,
        /// Block length.
        length: u32,
    },
    /// id 7: a block of data.
    Piece {
        /// Piece index.
        index: u32,
        /// Offset within the piece.
        begin: u32,
        /// The data.
        data: BlockData,
    },
    /// id 8: never mind that request.
    Cancel {
        /// Piece index.
        index: u32,
        /// Offset within the piece.
        begin: u32,
        /// Block length.
        length: u32,
    },
    /// id 9 (DHT port) or 20 (extension protocol) or any other id: ignored by us, carried so
    /// that the caller can see what arrived.
    Other {
        /// The message id.
        id: u8,
        /// Its length, without the id.
        len: u32,
    },
}

/// A block's bytes: a vector of its own, or a range of a chunk that came from the socket.
///
/// A [`Decoder`] fed whole chunks ([`Decoder::feed_owned`]) hands out the data of a piece
/// message that lies inside one chunk as a range of that chunk, shared and not copied (and a
/// piece message cut by a chunk's end as a range of the buffer it was put together in); the
/// chunk's memory is freed when the last block cut from it is dropped. Blocks shorter than
/// [`MIN_SHARED`] are copied out instead, so that a small block never keeps a large chunk
/// alive.
///
/// ```
/// use kamaelia_torrent::wire::{BlockData, Decoder, WireMessage};
///
/// let mut stream = Vec::new();
/// WireMessage::Piece { index: 0, begin: 0, data: vec![7u8; 16384].into() }.encode(&mut stream);
/// let mut d = Decoder::new();
/// d.feed_owned(stream);
/// let Some(WireMessage::Piece { data, .. }) = d.next_message().unwrap() else { panic!() };
/// assert_eq!(data.len(), 16384);
/// assert!(data.iter().all(|&b| b == 7));
/// let owned: Vec<u8> = data.into_vec(); // a copy only for shared data
/// assert_eq!(owned, vec![7u8; 16384]);
/// ```
#[derive(Clone)]
pub struct BlockData(Repr);

#[derive(Clone)]
enum Repr {
    Own(Vec<u8>),
    /// `chunk[start..end]`.
    Shared {
        chunk: Arc<Vec<u8>>,
        start: usize,
        end: usize,
    },
}

/// Blocks at least this long are shared with the chunk they arrived in; shorter ones are
/// copied. A shared block keeps its whole chunk until it is written: with the socket's
/// default reads of at most 64 KiB, a 16 KiB block (the size we ask for) keeps at most four
/// times its size, a block of this size at most sixteen.
pub const MIN_SHARED: usize = 4096;

impl BlockData {
    /// The block's bytes as a vector of its own: free for data that is one already, a copy
    /// for a range of a chunk.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Own(v) => v,
            Repr::Shared { chunk, start, end } => chunk[start..end].to_vec(),
        }
    }

    /// `chunk[start..end]`, shared if it is long enough, else copied.
    fn cut(chunk: &Arc<Vec<u8>>, start: usize, end: usize) -> BlockData {
        if end - start >= MIN_SHARED {
            BlockData(Repr::Shared {
                chunk: chunk.clone(),
                start,
                end,
            })
        } else {
            BlockData(Repr::Own(chunk[start..end].to_vec()))
        }
    }
}

impl std::ops::Deref for BlockData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Own(v) => v,
            Repr::Shared { chunk, start, end } => &chunk[*start..*end],
        }
    }
}

impl AsRef<[u8]> for BlockData {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for BlockData {
    fn from(v: Vec<u8>) -> BlockData {
        BlockData(Repr::Own(v))
    }
}

impl PartialEq for BlockData {
    fn eq(&self, other: &BlockData) -> bool {
        **self == **other
    }
}

impl Eq for BlockData {}

impl fmt::Debug for BlockData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockData({} bytes)", self.len())
    }
}

impl fmt::Debug for WireMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireMessage::Bitfield(b) => write!(f, "Bitfield({} bytes)", b.len()),
            WireMessage::Piece { index, begin, data } => {
                write!(
                    f,
                    "Piece {{ index: {index}, begin: {begin}, {} bytes }}",
                    data.len()
                )
            }
            WireMessage::KeepAlive => f.write_str("KeepAlive"),
            WireMessage::Choke => f.write_str("Choke"),
            WireMessage::Unchoke => f.write_str("Unchoke"),
            WireMessage::Interested => f.write_str("Interested"),
            WireMessage::NotInterested => f.write_str("NotInterested"),
            WireMessage::Have(i) => write!(f, "Have({i})"),
            WireMessage::Request {
                index,
                begin,
                length,
            } => {
                write!(f, "Request {{ {index}, {begin}, {length} }}")
            }
            WireMessage::Cancel {
                index,
                begin,
                length,
            } => {
                write!(f, "Cancel {{ {index}, {begin}, {length} }}")
            }
            WireMessage::Other { id, len } => write!(f, "Other {{ id: {id}, {len} bytes }}"),
        }
    }
}

/// A peer broke the protocol: drop the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The handshake is not BitTorrent's.
    NotBitTorrent,
    /// A message announced more bytes than any valid message has.
    TooLong(u32),
    /// A message of a known kind has the wrong length.
    BadLength {
        /// The message id.
        id: u8,
        /// Its length.
        len: u32,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::NotBitTorrent => f.write_str("the peer does not speak BitTorrent"),
            WireError::TooLong(n) => {
                write!(
                    f,
                    "the peer sent a {n}-byte message (at most {MAX_MESSAGE})"
                )
            }
            WireError::BadLength { id, len } => {
                write!(f, "the peer sent message {id} with a wrong length of {len}")
            }
        }
    }
}

impl std::error::Error for WireError {}

impl WireMessage {
    /// Appends the first 13 bytes of a piece message whose block is `data_len` bytes long:
    /// what [`encode`](WireMessage::encode) writes before the data, for a sender that sends
    /// the data from where it is.
    ///
    /// ```
    /// use kamaelia_torrent::wire::WireMessage;
    ///
    /// let data = vec![5u8; 100];
    /// let mut split = Vec::new();
    /// WireMessage::encode_piece_header(2, 16384, data.len(), &mut split);
    /// split.extend_from_slice(&data);
    /// let mut whole = Vec::new();
    /// WireMessage::Piece { index: 2, begin: 16384, data: data.into() }.encode(&mut whole);
    /// assert_eq!(split, whole);
    /// ```
    pub fn encode_piece_header(index: u32, begin: u32, data_len: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&(data_len as u32 + 9).to_be_bytes());
        out.push(7);
        out.extend_from_slice(&index.to_be_bytes());
        out.extend_from_slice(&begin.to_be_bytes());
    }

    /// Appends the message's bytes (length prefix included) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let three = |out: &mut Vec<u8>, id: u8, a: u32, b: u32, c: u32| {
            out.extend_from_slice(&13u32.to_be_bytes());
            out.push(id);
            out.extend_from_slice(&a.to_be_bytes());
            out.extend_from_slice(&b.to_be_bytes());
            out.extend_from_slice(&c.to_be_bytes());
        };
        match self {
            WireMessage::KeepAlive => out.extend_from_slice(&0u32.to_be_bytes()),
            WireMessage::Choke
            | WireMessage::Unchoke
            | WireMessage::Interested
            | WireMessage::NotInterested => {
                out.extend_from_slice(&1u32.to_be_bytes());
                out.push(match self {
                    WireMessage::Choke => 0,
                    WireMessage::Unchoke => 1,
                    WireMessage::Interested => 2,
                    _ => 3,
                });
            }
            WireMessage::Have(i) => {
                out.extend_from_slice(&5u32.to_be_bytes());
                out.push(4);
                out.extend_from_slice(&i.to_be_bytes());
            }
            WireMessage::Bitfield(b) => {
                out.extend_from_slice(&(b.len() as u32 + 1).to_be_bytes());
                out.push(5);
                out.extend_from_slice(b);
            }
            WireMessage::Request {
                index,
                begin,
                length,
            } => three(out, 6, *index, *begin, *length),
            WireMessage::Piece { index, begin, data } => {
                WireMessage::encode_piece_header(*index, *begin, data.len(), out);
                out.extend_from_slice(data);
            }
            WireMessage::Cancel {
                index,
                begin,
                length,
            } => three(out, 8, *index, *begin, *length),
            WireMessage::Other { id, len } => {
                // Its payload as zeros (what it held is not kept); the length prefix counts
                // the id, so at most u32::MAX - 1 of them.
                let len = (*len).min(u32::MAX - 1);
                out.extend_from_slice(&(len + 1).to_be_bytes());
                out.push(*id);
                out.extend(std::iter::repeat_n(0u8, len as usize));
            }
        }
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// Cuts a stream of bytes into messages.
///
/// Chunks handed over with [`feed_owned`](Decoder::feed_owned) are decoded where they are:
/// only a message cut by a chunk's end is copied (its start, and from the next chunk the
/// bytes that complete it), and a piece message inside one chunk keeps its data there (see
/// [`BlockData`]), so most of a stream is never copied here. [`feed`](Decoder::feed) copies
/// its bytes first.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The chunk being decoded in place: messages are cut from `chunk[start..]`.
    chunk: Arc<Vec<u8>>,
    start: usize,
    /// The start of a message cut by a chunk's end, completed from the chunks after it.
    cut: Vec<u8>,
    /// Chunks fed and not yet reached.
    queued: std::collections::VecDeque<Vec<u8>>,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

/// How long the message starting with `b` is, length prefix included (4 while the prefix
/// itself is incomplete), or the error for a length above [`MAX_MESSAGE`].
fn wanted(b: &[u8]) -> Result<usize, WireError> {
    if b.len() < 4 {
        return Ok(4);
    }
    let len = be32(b);
    if len > MAX_MESSAGE {
        return Err(WireError::TooLong(len));
    }
    Ok(4 + len as usize)
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Adds bytes that arrived (copied; see [`feed_owned`](Decoder::feed_owned)).
    pub fn feed(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.feed_owned(bytes.to_vec());
        }
    }

    /// Adds a chunk that arrived, to be decoded in place.
    pub fn feed_owned(&mut self, chunk: Vec<u8>) {
        if !chunk.is_empty() {
            self.queued.push_back(chunk);
        }
    }

    /// How many bytes wait, not yet a whole message.
    pub fn buffered(&self) -> usize {
        let queued: usize = self.queued.iter().map(Vec::len).sum();
        self.chunk.len() - self.start + self.cut.len() + queued
    }

    /// The next complete message, `Ok(None)` if it has not all arrived, or the error that
    /// should end the connection.
    pub fn next_message(&mut self) -> Result<Option<WireMessage>, WireError> {
        loop {
            let rest = &self.chunk[self.start..];
            if !self.cut.is_empty() {
                // Completing a message cut by a chunk's end, with only the bytes that
                // complete it (or its length prefix).
                let want = wanted(&self.cut)?;
                if self.cut.len() >= want {
                    // The message's own buffer now: a piece's data stays in it, uncopied.
                    let whole = Arc::new(std::mem::take(&mut self.cut));
                    return parse_body(&whole, 4, want).map(Some);
                }
                // Room for the whole message at once (its length is known, or 4).
                self.cut.reserve_exact(want - self.cut.len());
                if rest.is_empty() {
                    if !self.next_chunk() {
                        return Ok(None);
                    }
                    continue;
                }
                let take = (want - self.cut.len()).min(rest.len());
                self.cut.extend_from_slice(&rest[..take]);
                self.start += take;
                continue;
            }
            let want = wanted(rest)?;
            if rest.len() >= want {
                let (start, end) = (self.start + 4, self.start + want);
                let msg = parse_body(&self.chunk, start, end)?;
                self.start = end;
                return Ok(Some(msg));
            }
            if self.queued.is_empty() {
                return Ok(None);
            }
            // A message cut by the chunk's end: its start is copied, to be completed.
            self.cut.extend_from_slice(rest);
            self.next_chunk();
        }
    }

    /// Moves on to the next chunk fed, if there is one (the current one is freed once no
    /// block shares it).
    fn next_chunk(&mut self) -> bool {
        let Some(next) = self.queued.pop_front() else {
            return false;
        };
        self.chunk = Arc::new(next);
        self.start = 0;
        true
    }
}

/// The message whose bytes (after the length prefix) are `chunk[at..end]`; a piece's data
/// stays in the chunk (see [`BlockData`]).
fn parse_body(chunk: &Arc<Vec<u8>>, at: usize, end: usize) -> Result<WireMessage, WireError> {
    let body = &chunk[at..end];
    if body.is_empty() {
        return Ok(WireMessage::KeepAlive);
    }
    let id = body[0];
    let p = &body[1..];
    let len = body.len() as u32;
    let need = |n: usize| {
        if p.len() == n {
            Ok(())
        } else {
            Err(WireError::BadLength { id, len })
        }
    };
    Ok(match id {
        0 => need(0).map(|_| WireMessage::Choke)?,
        1 => need(0).map(|_| WireMessage::Unchoke)?,
        2 => need(0).map(|_| WireMessage::Interested)?,
        3 => need(0).map(|_| WireMessage::NotInterested)?,
        4 => need(4).map(|_| WireMessage::Have(be32(p)))?,
        5 => WireMessage::Bitfield(p.to_vec()),
        6 | 8 => {
            need(12)?;
            let (index, begin, length) = (be32(p), be32(&p[4..]), be32(&p[8..]));
            if id == 6 {
                WireMessage::Request {
                    index,
                    begin,
                    length,
                }
            } else {
                WireMessage::Cancel {
                    index,
                    begin,
                    length,
                }
            }
        }
        7 => {
            if p.len() < 8 || p.len() - 8 > MAX_BLOCK as usize {
                return Err(WireError::BadLength { id, len });
            }
            WireMessage::Piece {
                index: be32(p),
                begin: be32(&p[4..]),
                // The data starts 9 bytes into the body: after the id, the index, the offset.
                data: BlockData::cut(chunk, at + 9, end),
            }
        }
        _ => WireMessage::Other { id, len: len - 1 },
    })
}

/// Which pieces a peer has: one bit per piece, high bit first (the bitfield message's form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitfield {
    bits: Vec<u8>,
    pieces: usize,
}

impl Bitfield {
    /// No pieces of `pieces`.
    pub fn new(pieces: usize) -> Bitfield {
        Bitfield {
            bits: vec![0; pieces.div_ceil(8)],
            pieces,
        }
    }

    /// From a bitfield message. Refuses the wrong length, or spare bits set (BEP 3).
    pub fn from_bytes(bytes: &[u8], pieces: usize) -> Option<Bitfield> {
        if bytes.len() != pieces.div_ceil(8) {
            return None;
        }
        let spare = bytes.len() * 8 - pieces;
        if spare > 0 && bytes[bytes.len() - 1] & ((1u8 << spare) - 1) != 0 {
            return None;
        }
        Some(Bitfield {
            bits: bytes.to_vec(),
            pieces,
        })
    }

    /// The bytes of a bitfield message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }

    /// Whether piece `i` is had (false past the end).
    pub fn has(&self, i: usize) -> bool {
        i < self.pieces && self.bits[i / 8] & (0x80 >> (i % 8)) != 0
    }

    /// Marks piece `i` had. Returns false (and changes nothing) past the end.
    pub fn set(&mut self, i: usize) -> bool {
        if i >= self.pieces {
            return false;
        }
        self.bits[i / 8] |= 0x80 >> (i % 8);
        true
    }

    /// How many pieces are had.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// How many pieces in all.
    pub fn len(&self) -> usize {
        self.pieces
    }

    /// True for a torrent of no pieces.
    pub fn is_empty(&self) -> bool {
        self.pieces == 0
    }

    /// True if every piece is had.
    pub fn is_complete(&self) -> bool {
        self.count() == self.pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_through_a_stream_cut_anywhere() {
        let msgs = vec![
            WireMessage::KeepAlive,
            WireMessage::Choke,
            WireMessage::Unchoke,
            WireMessage::Interested,
            WireMessage::NotInterested,
            WireMessage::Have(7),
            WireMessage::Bitfield(vec![0b1010_0000]),
            WireMessage::Request {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            WireMessage::Piece {
                index: 1,
                begin: 0,
                data: vec![9; 100].into(),
            },
            WireMessage::Cancel {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            WireMessage::Other { id: 20, len: 5 },
        ];
        let mut stream = Vec::new();
        for m in &msgs {
            m.encode(&mut stream);
        }
        for cut in 1..stream.len() {
            let mut d = Decoder::new();
            let mut got = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                d.feed(part);
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, msgs, "cut at {cut}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn chunks_decoded_in_place_give_the_same_messages_wherever_they_are_cut() {
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut msgs = vec![WireMessage::Have(3), WireMessage::Bitfield(vec![0xff; 300])];
        for (i, block) in data.chunks(16384).enumerate() {
            msgs.push(WireMessage::Piece {
                index: i as u32,
                begin: 0,
                data: block.to_vec().into(),
            });
            msgs.push(WireMessage::KeepAlive);
        }
        let mut stream = Vec::new();
        for m in &msgs {
            m.encode(&mut stream);
        }
        for size in [1, 3, 5, 13, 4096, 16397, 16398, 65536, stream.len()] {
            let mut d = Decoder::new();
            let mut got = Vec::new();
            for part in stream.chunks(size) {
                d.feed_owned(part.to_vec());
                // At most one chunk waits at a time, as the connection feeds it.
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, msgs, "chunks of {size}");
            assert_eq!(d.buffered(), 0);
        }
        // Several chunks queued before any is decoded, and empty ones among them.
        let mut d = Decoder::new();
        for part in stream.chunks(1000) {
            d.feed_owned(part.to_vec());
            d.feed_owned(Vec::new());
        }
        assert_eq!(d.buffered(), stream.len());
        let got: Vec<_> = std::iter::from_fn(|| d.next_message().unwrap()).collect();
        assert_eq!(got, msgs);
    }

    /// The chunk a block shares, if it does.
    fn shared_chunk(d: &BlockData) -> Option<std::sync::Weak<Vec<u8>>> {
        match &d.0 {
            Repr::Shared { chunk, .. } => Some(Arc::downgrade(chunk)),
            Repr::Own(_) => None,
        }
    }

    #[test]
    fn blocks_inside_a_chunk_share_it_until_the_last_is_dropped_and_others_are_copied() {
        let piece = |index, len: usize| WireMessage::Piece {
            index,
            begin: 0,
            data: vec![index as u8; len].into(),
        };
        let mut first = Vec::new();
        for m in [
            piece(1, 16384),
            piece(2, 16384),
            piece(3, 100),
            piece(4, 16384),
        ] {
            m.encode(&mut first);
        }
        // The fourth message is cut by the chunk's end.
        let second = first.split_off(first.len() - 5000);
        let mut d = Decoder::new();
        d.feed_owned(first);
        d.feed_owned(second);
        let got: Vec<BlockData> = std::iter::from_fn(|| d.next_message().unwrap())
            .map(|m| match m {
                WireMessage::Piece { data, .. } => data,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got.len(), 4);
        for (i, data) in got.iter().enumerate() {
            assert!(data.iter().all(|&b| b == i as u8 + 1), "block {i}");
        }
        let (a, b) = (
            shared_chunk(&got[0]).unwrap(),
            shared_chunk(&got[1]).unwrap(),
        );
        assert!(a.ptr_eq(&b), "two blocks of one chunk share it");
        assert!(shared_chunk(&got[2]).is_none(), "a short block is copied");
        // A block cut by a chunk's end is put together once, in a buffer of its own.
        let own = shared_chunk(&got[3]).expect("the assembled message's buffer");
        assert!(!own.ptr_eq(&a));
        assert_eq!(own.upgrade().unwrap().len(), 16384 + 13);
        // The decoder has moved past the first chunk: the blocks alone keep it.
        let mut got = got;
        got.truncate(1);
        assert!(a.upgrade().is_some());
        drop(got);
        assert!(
            a.upgrade().is_none(),
            "the chunk is freed with its last block"
        );
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn a_length_too_long_is_refused_before_its_bytes_are_kept() {
        // The prefix cut across two chunks, then more bytes than any message may have.
        let mut d = Decoder::new();
        d.feed_owned(vec![0xff, 0xff]);
        assert_eq!(d.next_message(), Ok(None));
        d.feed_owned(vec![0xff, 0xff, 7, 0, 0]);
        assert_eq!(d.next_message(), Err(WireError::TooLong(u32::MAX)));
        // A piece message of a block above MAX_BLOCK, complete: refused, not decoded.
        let mut big = Vec::new();
        WireMessage::Piece {
            index: 0,
            begin: 0,
            data: vec![0; MAX_BLOCK as usize + 1].into(),
        }
        .encode(&mut big);
        let mut d = Decoder::new();
        for part in big.chunks(65536) {
            d.feed_owned(part.to_vec());
        }
        assert!(matches!(
            d.next_message(),
            Err(WireError::BadLength { id: 7, .. })
        ));
    }

    #[test]
    fn hostile_messages_are_errors() {
        let mut d = Decoder::new();
        d.feed(&u32::MAX.to_be_bytes());
        assert_eq!(d.next_message(), Err(WireError::TooLong(u32::MAX)));
        for bad in [
            &[0, 0, 0, 2, 0, 0][..],
            &[0, 0, 0, 4, 4, 0, 0, 0],
            &[0, 0, 0, 3, 7, 0, 0],
        ] {
            let mut d = Decoder::new();
            d.feed(bad);
            assert!(
                matches!(d.next_message(), Err(WireError::BadLength { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn handshakes_and_strangers() {
        let h = Handshake::new(InfoHash([1; 20]), PeerId([2; 20]));
        let b = h.to_bytes();
        assert_eq!(Handshake::parse(&b).unwrap(), Some(h));
        assert_eq!(Handshake::parse(&b[..30]).unwrap(), None);
        assert_eq!(
            Handshake::parse(b"GET / HTTP/1.1"),
            Err(WireError::NotBitTorrent)
        );
        let mut reserved = b;
        reserved[25] = 0x10; // an extension bit we do not know: ignored
        assert_eq!(
            Handshake::parse(&reserved).unwrap().unwrap().info_hash,
            h.info_hash
        );
    }

    #[test]
    fn bitfields_check_their_length_and_spare_bits() {
        let mut b = Bitfield::new(10);
        assert!(b.set(0) && b.set(9) && !b.set(10));
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert_eq!(b.count(), 2);
        assert!(Bitfield::from_bytes(&[0x80, 0x40], 10).is_some());
        assert!(
            Bitfield::from_bytes(&[0x80, 0x41], 10).is_none(),
            "spare bit set"
        );
        assert!(Bitfield::from_bytes(&[0x80], 10).is_none(), "too short");
    }
}
