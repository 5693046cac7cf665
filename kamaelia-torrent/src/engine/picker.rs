//! The piece picker: which 16 KiB blocks to request from which peer (BEP 3). Pure: no I/O,
//! no threads, and no clock reads (the time is passed in).
//!
//! Every piece is cut into [`BLOCK_SIZE`] blocks (the last block of a piece and the last piece
//! may be shorter). A peer first continues the pieces already in progress that it has, its own
//! piece first, so that few pieces are open at once and each is finished soon; only then does
//! it start a new piece, the rarest among the connected peers, ties broken pseudo-randomly.
//! A block is requested from one peer at a time until the endgame: once every missing block
//! is requested, a peer with nothing else to do may also ask for blocks outstanding at other
//! peers, and when one arrives the other requests for it are handed back to be cancelled.
//! A choke, a disconnect or a timeout puts that peer's requests back in the pool.
//!
//! ```
//! use kamaelia_torrent::engine::picker::{Picker, Received, BLOCK_SIZE};
//! use kamaelia_torrent::wire::Bitfield;
//! use std::time::Instant;
//!
//! // Two pieces of 32 KiB, the last one short (20 KiB): four blocks.
//! let mut picker = Picker::new(32 * 1024, 52 * 1024, Bitfield::new(2));
//! let seed = "10.0.0.1:6881".parse().unwrap();
//! let mut all = Bitfield::new(2);
//! all.set(0);
//! all.set(1);
//! picker.peer_bitfield(seed, &all);
//! let blocks = picker.next_requests(seed, 10, Instant::now());
//! assert_eq!(blocks.len(), 4);
//! assert_eq!(blocks.iter().map(|b| b.length).max(), Some(BLOCK_SIZE));
//! for b in blocks {
//!     if let Received::Accepted { piece_complete: true, .. } = picker.block_received(seed, b) {
//!         picker.piece_verified(b.piece, true); // after checking its SHA-1
//!     }
//! }
//! assert!(picker.is_complete());
//! assert_eq!(picker.bytes_left(), 0);
//! ```

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::random::Rng;
use crate::wire::Bitfield;

/// A peer, identified by its address (ip, port).
pub type PeerKey = std::net::SocketAddr;

/// The size of a block: the unit of a request (the last block of a piece may be shorter).
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// One block of a piece, as named in request, piece and cancel messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block {
    /// The piece index.
    pub piece: u32,
    /// The offset within the piece.
    pub begin: u32,
    /// The length in bytes.
    pub length: u32,
}

/// What [`Picker::block_received`] made of a block.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Not a block we want: not on our block grid, or already received or verified. Caller
    /// drops the data.
    Unwanted,
    /// Accepted: write it. `piece_complete` when every block of its piece is now received (the
    /// caller then verifies the piece's hash). `cancels`: the same block still requested from
    /// other peers (in endgame, or a late answer to a request that had timed out); the caller
    /// sends them `cancel`.
    Accepted {
        /// Every block of the piece is now received.
        piece_complete: bool,
        /// Requests for this block at other peers, now withdrawn.
        cancels: Vec<(PeerKey, Block)>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not verified and not started.
    Missing,
    /// Some block requested or received (or all received, waiting for verification).
    Partial,
    Verified,
}

#[derive(Default)]
struct Slot {
    received: bool,
    requesters: Vec<PeerKey>,
}

/// A piece in progress.
struct Partial {
    slots: Vec<Slot>,
    received: usize,
    /// Blocks neither received nor requested.
    unrequested: usize,
    /// Every block below this index is received or requested.
    hint: usize,
    /// The peers that sent blocks of it, each once.
    contributors: Vec<PeerKey>,
}

struct Peer {
    has: Bitfield,
    /// Pieces it has.
    count: usize,
    /// Pieces it has that are not verified.
    wanted: usize,
    /// Pieces it has that are `Missing` (could be started).
    fresh: usize,
    /// Our requests to it, oldest first (so the block that arrives is nearly always the
    /// first: a deque, for a cheap removal there). Each block at most once: it is here
    /// exactly when this peer is among the block's requesters.
    outstanding: VecDeque<(Block, Instant)>,
    /// The piece it was last given blocks of.
    current: Option<u32>,
}

/// The piece picker of one torrent: the state of every piece and block we lack, what each
/// connected peer has, and the requests outstanding at each peer. See the module doc.
pub struct Picker {
    piece_length: u64,
    total_length: u64,
    have: Bitfield,
    verified: usize,
    left: u64,
    state: Vec<State>,
    availability: Vec<u32>,
    partials: HashMap<u32, Partial>,
    /// The pieces in progress, oldest first.
    order: Vec<u32>,
    peers: HashMap<PeerKey, Peer>,
    /// Blocks of unverified pieces that are neither received nor requested.
    unrequested: usize,
    rng: Rng,
}

/// The indices of the set bits of `bf`.
fn set_bits(bf: &Bitfield) -> impl Iterator<Item = usize> + '_ {
    bf.as_bytes()
        .iter()
        .enumerate()
        .filter(|(_, b)| **b != 0)
        .flat_map(|(i, &b)| {
            (0..8)
                .filter(move |k| b & (0x80 >> k) != 0)
                .map(move |k| i * 8 + k)
        })
}

fn block_at(piece: u32, idx: usize, size: u32) -> Block {
    let begin = (idx as u32).saturating_mul(BLOCK_SIZE);
    Block {
        piece,
        begin,
        length: BLOCK_SIZE.min(size.saturating_sub(begin)),
    }
}

impl Picker {
    /// A picker for a torrent of `have.len()` pieces of `piece_length` bytes (the last one
    /// holding what is left of `total_length`); the pieces set in `have` are already verified
    /// (resume). Ties between equally rare pieces are broken with a per-process random seed.
    pub fn new(piece_length: u64, total_length: u64, have: Bitfield) -> Picker {
        let seed = Rng::from_clock().next_u64();
        Picker::with_seed(piece_length, total_length, have, seed)
    }

    /// As [`Picker::new`], with the seed of the tie-breaking generator given (reproducible).
    pub fn with_seed(piece_length: u64, total_length: u64, have: Bitfield, seed: u64) -> Picker {
        let n = have.len();
        let mut picker = Picker {
            piece_length,
            total_length,
            have: Bitfield::new(n),
            verified: 0,
            left: 0,
            state: vec![State::Missing; n],
            availability: vec![0; n],
            partials: HashMap::new(),
            order: Vec::new(),
            peers: HashMap::new(),
            unrequested: 0,
            rng: Rng::new(seed),
        };
        for i in 0..n {
            if have.has(i) {
                picker.state[i] = State::Verified;
                picker.verified += 1;
            } else {
                picker.left += u64::from(picker.piece_size(i as u32));
                picker.unrequested += picker.blocks(i as u32);
            }
        }
        picker.have = have;
        picker
    }

    /// The verified pieces.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// True when every piece is verified (at once for a torrent of no pieces).
    pub fn is_complete(&self) -> bool {
        self.verified == self.state.len()
    }

    /// The bytes in pieces not yet verified.
    pub fn bytes_left(&self) -> u64 {
        self.left
    }

    /// The size of a piece in bytes (the last may be short); 0 past the end.
    pub fn piece_size(&self, piece: u32) -> u32 {
        let (n, i) = (self.state.len() as u64, u64::from(piece));
        if i >= n {
            return 0;
        }
        let size = if i + 1 == n {
            let before = self.piece_length.saturating_mul(i);
            self.total_length
                .saturating_sub(before)
                .min(self.piece_length)
        } else {
            self.piece_length
        };
        u32::try_from(size).unwrap_or(u32::MAX)
    }

    fn blocks(&self, piece: u32) -> usize {
        self.piece_size(piece).div_ceil(BLOCK_SIZE) as usize
    }

    /// How many connected peers have `piece` (0 past the end).
    pub fn availability(&self, piece: u32) -> u32 {
        self.availability.get(piece as usize).copied().unwrap_or(0)
    }

    /// Adds a peer with no pieces yet (nothing changes if it is known).
    pub fn add_peer(&mut self, peer: PeerKey) {
        let n = self.state.len();
        self.peers.entry(peer).or_insert_with(|| Peer {
            has: Bitfield::new(n),
            count: 0,
            wanted: 0,
            fresh: 0,
            outstanding: VecDeque::new(),
            current: None,
        });
    }

    /// Replaces what `peer` has (adding it if unknown). Bits past our piece count are ignored.
    pub fn peer_bitfield(&mut self, peer: PeerKey, bits: &Bitfield) {
        let n = self.state.len();
        let new = if bits.len() == n {
            bits.clone()
        } else {
            let mut b = Bitfield::new(n);
            set_bits(bits).for_each(|i| {
                b.set(i);
            });
            b
        };
        self.add_peer(peer);
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let old = std::mem::replace(&mut p.has, new);
        for i in set_bits(&old) {
            self.availability[i] -= 1;
        }
        let (mut count, mut wanted, mut fresh) = (0, 0, 0);
        for i in set_bits(&p.has) {
            self.availability[i] += 1;
            count += 1;
            wanted += usize::from(self.state[i] != State::Verified);
            fresh += usize::from(self.state[i] == State::Missing);
        }
        (p.count, p.wanted, p.fresh) = (count, wanted, fresh);
    }

    /// `peer` has announced `piece` (adding the peer if unknown). Out of range: ignored.
    pub fn peer_have(&mut self, peer: PeerKey, piece: u32) {
        let i = piece as usize;
        if i >= self.state.len() {
            return;
        }
        self.add_peer(peer);
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if !p.has.has(i) && p.has.set(i) {
            self.availability[i] += 1;
            p.count += 1;
            p.wanted += usize::from(self.state[i] != State::Verified);
            p.fresh += usize::from(self.state[i] == State::Missing);
        }
    }

    /// Forgets `peer`: the availability of its pieces goes down and its outstanding requests
    /// go back to the pool.
    pub fn remove_peer(&mut self, peer: PeerKey) {
        let Some(p) = self.peers.remove(&peer) else {
            return;
        };
        for i in set_bits(&p.has) {
            self.availability[i] -= 1;
        }
        for (b, _) in p.outstanding {
            self.release(peer, b);
        }
    }

    /// What `peer` has, if it is known.
    pub fn peer_has(&self, peer: PeerKey) -> Option<&Bitfield> {
        self.peers.get(&peer).map(|p| &p.has)
    }

    /// True if `peer` is known and has every piece.
    pub fn peer_is_seed(&self, peer: PeerKey) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|p| p.count == self.state.len())
    }

    /// True if `peer` has a piece we have not verified.
    pub fn interesting(&self, peer: PeerKey) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.wanted > 0)
    }

    /// Tops this peer's outstanding requests up to `max_outstanding` and returns the new ones
    /// to send, in order: blocks of pieces in progress (this peer's own piece first), then of
    /// new pieces rarest first, then in endgame duplicates of blocks requested elsewhere.
    pub fn next_requests(
        &mut self,
        peer: PeerKey,
        max_outstanding: usize,
        now: Instant,
    ) -> Vec<Block> {
        let mut out = Vec::new();
        let Some(p) = self.peers.get(&peer) else {
            return out;
        };
        let mut need = max_outstanding.saturating_sub(p.outstanding.len());
        if need == 0 || p.wanted == 0 {
            return out;
        }
        let current = p.current;
        if let Some(c) = current {
            self.take_from(peer, c, &mut need, now, &mut out);
        }
        let mut k = 0;
        while need > 0 && k < self.order.len() {
            let piece = self.order[k];
            if Some(piece) != current {
                self.take_from(peer, piece, &mut need, now, &mut out);
            }
            k += 1;
        }
        while need > 0 && self.peers.get(&peer).is_some_and(|p| p.fresh > 0) {
            let Some(piece) = self.rarest(peer) else {
                break;
            };
            self.start(piece);
            self.take_from(peer, piece, &mut need, now, &mut out);
        }
        if need > 0 && self.in_endgame() {
            self.duplicates(peer, need, now, &mut out);
        }
        out
    }

    /// Requests unrequested blocks of `piece` in progress from `peer`, if it has the piece.
    fn take_from(
        &mut self,
        peer: PeerKey,
        piece: u32,
        need: &mut usize,
        now: Instant,
        out: &mut Vec<Block>,
    ) {
        let size = self.piece_size(piece);
        let (Some(p), Some(part)) = (self.peers.get_mut(&peer), self.partials.get_mut(&piece))
        else {
            return;
        };
        if part.unrequested == 0 || !p.has.has(piece as usize) {
            return;
        }
        let mut i = part.hint;
        while *need > 0 && part.unrequested > 0 && i < part.slots.len() {
            let slot = &mut part.slots[i];
            if !slot.received && slot.requesters.is_empty() {
                slot.requesters.push(peer);
                part.unrequested -= 1;
                self.unrequested -= 1;
                let b = block_at(piece, i, size);
                p.outstanding.push_back((b, now));
                out.push(b);
                *need -= 1;
                p.current = Some(piece);
            }
            i += 1;
        }
        part.hint = i;
    }

    /// The rarest `Missing` piece `peer` has, ties broken at random (reservoir sampling).
    fn rarest(&mut self, peer: PeerKey) -> Option<u32> {
        let p = self.peers.get(&peer)?;
        let mut best: Option<(u32, usize)> = None;
        let mut ties = 0u64;
        let mine = self.have.as_bytes();
        for (byte, (&h, &m)) in p.has.as_bytes().iter().zip(mine).enumerate() {
            let mut c = h & !m;
            while c != 0 {
                let k = c.leading_zeros() as usize;
                c &= !(0x80u8 >> k);
                let i = byte * 8 + k;
                if self.state.get(i) != Some(&State::Missing) {
                    continue;
                }
                let a = self.availability[i];
                match best {
                    Some((ba, _)) if a > ba => {}
                    Some((ba, _)) if a == ba => {
                        ties += 1;
                        if self.rng.below(ties) == 0 {
                            best = Some((a, i));
                        }
                    }
                    _ => {
                        best = Some((a, i));
                        ties = 1;
                    }
                }
            }
        }
        best.map(|(_, i)| i as u32)
    }

    /// Endgame: requests from `peer` blocks outstanding elsewhere, least requested first.
    fn duplicates(&mut self, peer: PeerKey, need: usize, now: Instant, out: &mut Vec<Block>) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let mut cands = Vec::new();
        for &piece in &self.order {
            let Some(part) = self.partials.get(&piece) else {
                continue;
            };
            if !p.has.has(piece as usize) {
                continue;
            }
            for (i, s) in part.slots.iter().enumerate() {
                if !s.received && !s.requesters.contains(&peer) {
                    cands.push((s.requesters.len(), piece, i));
                }
            }
        }
        cands.sort_by_key(|c| c.0);
        for (_, piece, i) in cands.into_iter().take(need) {
            let size = self.piece_size(piece);
            let (Some(p), Some(part)) = (self.peers.get_mut(&peer), self.partials.get_mut(&piece))
            else {
                continue;
            };
            let b = block_at(piece, i, size);
            part.slots[i].requesters.push(peer);
            p.outstanding.push_back((b, now));
            out.push(b);
        }
    }

    /// The number of requests outstanding at `peer`.
    pub fn outstanding(&self, peer: PeerKey) -> usize {
        self.peers.get(&peer).map_or(0, |p| p.outstanding.len())
    }

    /// The index of `block` in its piece if it is on our grid of a piece not verified.
    fn grid_index(&self, block: Block) -> Option<usize> {
        let st = *self.state.get(block.piece as usize)?;
        let size = self.piece_size(block.piece);
        if st == State::Verified || block.begin % BLOCK_SIZE != 0 || block.begin >= size {
            return None;
        }
        let idx = (block.begin / BLOCK_SIZE) as usize;
        (block_at(block.piece, idx, size) == block).then_some(idx)
    }

    /// A block arrived from `peer`. It is wanted only if it is outstanding at that peer (a
    /// block nobody asked it for, or asked for so long ago that the request expired, is
    /// [`Received::Unwanted`]). Its requests at every peer are removed; those at other peers
    /// are returned in `cancels`.
    pub fn block_received(&mut self, peer: PeerKey, block: Block) -> Received {
        let Some(idx) = self.grid_index(block) else {
            return Received::Unwanted;
        };
        // Only a block asked of this very peer is taken: a peer cannot push data nobody
        // requested (into pieces others are sending, to have their pieces fail their hash).
        let Some(part) = self.partials.get_mut(&block.piece) else {
            return Received::Unwanted;
        };
        let slot = &mut part.slots[idx];
        if slot.received || !slot.requesters.contains(&peer) {
            return Received::Unwanted;
        }
        slot.received = true;
        let requesters = std::mem::take(&mut slot.requesters);
        part.received += 1;
        if requesters.is_empty() {
            part.unrequested -= 1;
            self.unrequested -= 1;
        }
        if !part.contributors.contains(&peer) {
            part.contributors.push(peer);
        }
        let piece_complete = part.received == part.slots.len();
        let mut cancels = Vec::new();
        for r in requesters {
            if let Some(p) = self.peers.get_mut(&r) {
                if let Some(i) = p.outstanding.iter().position(|(b, _)| *b == block) {
                    p.outstanding.remove(i);
                }
            }
            if r != peer {
                cancels.push((r, block));
            }
        }
        Received::Accepted {
            piece_complete,
            cancels,
        }
    }

    /// After the caller hashed a piece. `ok`: the piece is verified (have) and an empty list
    /// is returned. `!ok`: every block of it is missing again, and the peers that sent blocks
    /// of it are returned (each once, sorted) so the caller can count hash failures against
    /// them. Out of range or already verified: nothing changes, nobody is named.
    pub fn piece_verified(&mut self, piece: u32, ok: bool) -> Vec<PeerKey> {
        let i = piece as usize;
        if self.state.get(i).is_none_or(|s| *s == State::Verified) {
            return Vec::new();
        }
        let blocks = self.blocks(piece);
        let part = self.partials.remove(&piece);
        if let Some(part) = &part {
            self.order.retain(|&p| p != piece);
            for r in part.slots.iter().flat_map(|s| &s.requesters) {
                if let Some(p) = self.peers.get_mut(r) {
                    p.outstanding.retain(|(b, _)| b.piece != piece);
                }
            }
        }
        let unrequested = part.as_ref().map_or(blocks, |p| p.unrequested);
        if ok {
            self.unrequested -= unrequested;
            self.have.set(i);
            self.verified += 1;
            self.left = self.left.saturating_sub(u64::from(self.piece_size(piece)));
            self.set_state(piece, State::Verified);
            Vec::new()
        } else {
            self.unrequested += blocks - unrequested;
            self.set_state(piece, State::Missing);
            let mut blamed = part.map(|p| p.contributors).unwrap_or_default();
            blamed.sort();
            blamed
        }
    }

    /// BEP 3: `peer` choked us, which discards our requests: they all go back to the pool.
    pub fn peer_choked(&mut self, peer: PeerKey) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        for (b, _) in std::mem::take(&mut p.outstanding) {
            self.release(peer, b);
        }
    }

    /// The requests older than `timeout` at `now`: removed from their peer's outstanding and
    /// back in the pool. Returned (sorted) so that the caller can cancel them and mark the
    /// peers snubbed.
    pub fn expired(&mut self, now: Instant, timeout: Duration) -> Vec<(PeerKey, Block)> {
        let mut gone = Vec::new();
        for (&k, p) in self.peers.iter_mut() {
            p.outstanding.retain(|&(b, t)| {
                let old = now.saturating_duration_since(t) > timeout;
                if old {
                    gone.push((k, b));
                }
                !old
            });
        }
        gone.sort();
        for &(k, b) in &gone {
            self.release(k, b);
        }
        gone
    }

    /// True when every block still missing is requested from some peer (and some is missing):
    /// from now on blocks may be requested from several peers at once.
    pub fn in_endgame(&self) -> bool {
        self.unrequested == 0 && !self.is_complete()
    }

    /// Removes `peer` from the requesters of `block` (the caller has already removed it from
    /// the peer's outstanding); the block is back in the pool if nobody else asked for it.
    fn release(&mut self, peer: PeerKey, block: Block) {
        let Some(part) = self.partials.get_mut(&block.piece) else {
            return;
        };
        let idx = (block.begin / BLOCK_SIZE) as usize;
        let Some(slot) = part.slots.get_mut(idx) else {
            return;
        };
        let before = slot.requesters.len();
        slot.requesters.retain(|&r| r != peer);
        if before > 0 && slot.requesters.is_empty() && !slot.received {
            part.unrequested += 1;
            self.unrequested += 1;
            part.hint = part.hint.min(idx);
        }
    }

    /// Makes a `Missing` piece in progress, with nothing requested or received.
    fn start(&mut self, piece: u32) {
        if self.state.get(piece as usize) != Some(&State::Missing) {
            return;
        }
        let n = self.blocks(piece);
        let part = Partial {
            slots: (0..n).map(|_| Slot::default()).collect(),
            received: 0,
            unrequested: n,
            hint: 0,
            contributors: Vec::new(),
        };
        self.partials.insert(piece, part);
        self.order.push(piece);
        self.set_state(piece, State::Partial);
    }

    /// Changes a piece's state, keeping every peer's counts right.
    fn set_state(&mut self, piece: u32, new: State) {
        let i = piece as usize;
        let old = self.state[i];
        if old == new {
            return;
        }
        self.state[i] = new;
        for p in self.peers.values_mut().filter(|p| p.has.has(i)) {
            if old == State::Missing {
                p.fresh -= 1;
            }
            if new == State::Missing {
                p.fresh += 1;
            }
            if new == State::Verified {
                p.wanted -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, VecDeque};

    const B: u64 = BLOCK_SIZE as u64;

    fn addr(port: u16) -> PeerKey {
        PeerKey::from(([10, 0, 0, 1], port))
    }

    fn bits(n: usize, set: &[usize]) -> Bitfield {
        let mut b = Bitfield::new(n);
        set.iter().for_each(|&i| {
            b.set(i);
        });
        b
    }

    fn full(n: usize) -> Bitfield {
        bits(n, &(0..n).collect::<Vec<_>>())
    }

    fn blk(piece: u32, begin: u32, length: u32) -> Block {
        Block {
            piece,
            begin,
            length,
        }
    }

    fn accepted(r: Received) -> (bool, Vec<(PeerKey, Block)>) {
        match r {
            Received::Accepted {
                piece_complete,
                cancels,
            } => (piece_complete, cancels),
            Received::Unwanted => panic!("unwanted"),
        }
    }

    #[test]
    fn block_grid_with_short_last_block_and_piece() {
        let pl = 2 * B + 100;
        let mut pk = Picker::new(pl, 2 * pl + 5000, Bitfield::new(3));
        assert_eq!(
            (pk.piece_size(0), pk.piece_size(2), pk.piece_size(3)),
            (pl as u32, 5000, 0)
        );
        assert_eq!(pk.bytes_left(), 2 * pl + 5000);
        pk.peer_bitfield(addr(1), &full(3));
        assert!(pk.peer_is_seed(addr(1)) && pk.interesting(addr(1)));
        let got: BTreeSet<Block> = pk
            .next_requests(addr(1), 100, Instant::now())
            .into_iter()
            .collect();
        let mut want = BTreeSet::new();
        for p in 0..2 {
            want.extend([blk(p, 0, 16384), blk(p, 16384, 16384), blk(p, 32768, 100)]);
        }
        want.insert(blk(2, 0, 5000));
        assert_eq!(got, want);
    }

    #[test]
    fn huge_pieces_and_many_pieces_work() {
        let (pl, n) = (1u64 << 28, 1usize << 20);
        let mut pk = Picker::with_seed(pl, pl * n as u64 - 1, Bitfield::new(n), 3);
        assert_eq!(pk.piece_size(n as u32 - 1), (pl - 1) as u32);
        pk.peer_have(addr(1), 7);
        let got = pk.next_requests(addr(1), 4, Instant::now());
        assert_eq!(got[3], blk(7, 3 * BLOCK_SIZE, BLOCK_SIZE));
        let last = blk(7, (pl - B) as u32, BLOCK_SIZE);
        assert_eq!(
            pk.block_received(addr(1), last),
            Received::Unwanted,
            "not asked"
        );
        assert!(matches!(
            pk.block_received(addr(1), got[3]),
            Received::Accepted { .. }
        ));
    }

    #[test]
    fn rarest_first_with_random_ties() {
        for seed in 1..20 {
            let mut pk = Picker::with_seed(B, 2 * B, Bitfield::new(2), seed);
            pk.peer_bitfield(addr(1), &bits(2, &[0, 1]));
            pk.peer_bitfield(addr(2), &bits(2, &[1]));
            assert_eq!(pk.availability(1), 2);
            assert_eq!(pk.next_requests(addr(1), 1, Instant::now())[0].piece, 0);
        }
        let firsts: BTreeSet<u32> = (1..40)
            .map(|seed| {
                let mut pk = Picker::with_seed(B, 8 * B, Bitfield::new(8), seed);
                pk.peer_bitfield(addr(1), &full(8));
                pk.next_requests(addr(1), 1, Instant::now())[0].piece
            })
            .collect();
        assert!(firsts.len() > 2, "{firsts:?}");
    }

    #[test]
    fn pieces_in_progress_are_finished_before_new_ones() {
        let now = Instant::now();
        let mut pk = Picker::new(4 * B, 12 * B, Bitfield::new(3));
        for peer in [addr(1), addr(2)] {
            pk.peer_bitfield(peer, &full(3));
        }
        let a = pk.next_requests(addr(1), 2, now);
        let b = pk.next_requests(addr(2), 3, now);
        assert_eq!(a.iter().map(|b| b.begin).collect::<Vec<_>>(), [0, B as u32]);
        assert!(b[..2]
            .iter()
            .all(|x| x.piece == a[0].piece && x.begin >= 2 * B as u32));
        assert_ne!(b[2].piece, a[0].piece);
        // A continues the piece B started rather than a third one.
        let a2 = pk.next_requests(addr(1), 5, now);
        assert!(a2.iter().all(|x| x.piece == b[2].piece));
        assert!(!pk.in_endgame());
    }

    #[test]
    fn endgame_duplicates_and_cancels() {
        let now = Instant::now();
        let (a, b) = (addr(1), addr(2));
        let mut pk = Picker::new(2 * B, 2 * B, Bitfield::new(1));
        pk.peer_bitfield(a, &full(1));
        pk.peer_bitfield(b, &full(1));
        assert_eq!(pk.next_requests(a, 10, now).len(), 2);
        assert!(pk.in_endgame());
        let dup = pk.next_requests(b, 10, now);
        assert_eq!(dup, [blk(0, 0, 16384), blk(0, 16384, 16384)]);
        assert!(
            pk.next_requests(a, 10, now).is_empty(),
            "never twice to one peer"
        );
        let (done, cancels) = accepted(pk.block_received(a, dup[0]));
        assert!(!done);
        assert_eq!(cancels, [(b, dup[0])]);
        assert_eq!((pk.outstanding(a), pk.outstanding(b)), (1, 1));
        assert_eq!(pk.block_received(b, dup[0]), Received::Unwanted);
        let (done, cancels) = accepted(pk.block_received(b, dup[1]));
        assert!(done);
        assert_eq!(cancels, [(a, dup[1])]);
        assert_eq!((pk.outstanding(a), pk.outstanding(b)), (0, 0));
        assert!(pk.piece_verified(0, true).is_empty());
        assert!(pk.is_complete() && !pk.in_endgame() && !pk.interesting(a));
    }

    #[test]
    fn choke_and_expiry_return_requests() {
        let t0 = Instant::now();
        let (a, b) = (addr(1), addr(2));
        let mut pk = Picker::new(4 * B, 4 * B, Bitfield::new(1));
        pk.peer_bitfield(a, &full(1));
        pk.peer_bitfield(b, &full(1));
        let first = pk.next_requests(a, 2, t0);
        pk.peer_choked(a);
        assert_eq!(pk.outstanding(a), 0);
        assert_eq!(pk.next_requests(b, 2, t0), first);
        let later = t0 + Duration::from_secs(5);
        let rest = pk.next_requests(a, 2, later);
        assert!(pk.expired(later, Duration::from_secs(10)).is_empty());
        let gone = pk.expired(t0 + Duration::from_secs(11), Duration::from_secs(10));
        assert_eq!(gone, first.iter().map(|&x| (b, x)).collect::<Vec<_>>());
        assert_eq!(pk.outstanding(b), 0);
        assert_eq!(pk.next_requests(a, 4, later)[..], first[..]);
        assert_eq!(pk.outstanding(a), 4);
        assert_eq!(rest.len(), 2);
    }

    #[test]
    fn remove_peer_returns_requests_and_lowers_availability() {
        let now = Instant::now();
        let (a, b) = (addr(1), addr(2));
        let mut pk = Picker::new(B, 2 * B, Bitfield::new(2));
        pk.peer_bitfield(a, &full(2));
        pk.peer_have(b, 1);
        pk.peer_have(b, 9); // out of range: ignored
        assert_eq!((pk.availability(0), pk.availability(1)), (1, 2));
        let got = pk.next_requests(a, 2, now);
        assert_eq!(got.len(), 2);
        pk.remove_peer(a);
        assert_eq!((pk.availability(0), pk.availability(1)), (0, 1));
        assert!(pk.peer_has(a).is_none());
        assert_eq!(pk.next_requests(b, 5, now), [blk(1, 0, 16384)]);
    }

    #[test]
    fn failed_verification_resets_the_piece_and_names_the_senders() {
        let now = Instant::now();
        let (a, b) = (addr(1), addr(2));
        let mut pk = Picker::new(2 * B, 2 * B, Bitfield::new(1));
        pk.peer_bitfield(a, &full(1));
        pk.peer_bitfield(b, &full(1));
        let x = pk.next_requests(b, 1, now)[0];
        let y = pk.next_requests(a, 1, now)[0];
        assert!(!accepted(pk.block_received(b, x)).0);
        assert!(accepted(pk.block_received(a, y)).0);
        assert_eq!(pk.piece_verified(0, false), [a, b]);
        assert!(!pk.have().has(0));
        assert_eq!(pk.bytes_left(), 2 * B);
        assert!(!pk.in_endgame());
        assert_eq!(pk.next_requests(a, 5, now), [x, y]);
        assert!(accepted(pk.block_received(a, x)).1.is_empty());
    }

    #[test]
    fn resume_with_have_bits() {
        let mut pk = Picker::new(B, 2 * B + 10, bits(3, &[0, 2]));
        assert_eq!(pk.bytes_left(), B);
        pk.peer_bitfield(addr(1), &bits(3, &[0, 2]));
        assert!(!pk.interesting(addr(1)));
        pk.peer_bitfield(addr(2), &full(3));
        assert!(pk.interesting(addr(2)));
        assert!(pk.next_requests(addr(1), 5, Instant::now()).is_empty());
        assert_eq!(
            pk.next_requests(addr(2), 5, Instant::now()),
            [blk(1, 0, 16384)]
        );
        assert_eq!(
            pk.block_received(addr(2), blk(0, 0, 16384)),
            Received::Unwanted
        );
        assert!(accepted(pk.block_received(addr(2), blk(1, 0, 16384))).0);
        pk.piece_verified(1, true);
        assert!(pk.is_complete() && pk.have().is_complete() && pk.bytes_left() == 0);
        assert!(!pk.interesting(addr(2)));
    }

    #[test]
    fn unwanted_blocks() {
        let p = addr(1);
        let mut pk = Picker::new(2 * B, 3 * B + 7, Bitfield::new(2));
        for bad in [
            blk(0, 1, 16384),
            blk(0, 0, 100),
            blk(0, 2 * BLOCK_SIZE, 16384),
            blk(1, 16384, 16384),
            blk(2, 0, 16384),
            blk(u32::MAX, u32::MAX, u32::MAX),
        ] {
            assert_eq!(pk.block_received(p, bad), Received::Unwanted, "{bad:?}");
        }
        // A block on the grid that nobody asked this peer for is not taken, even once.
        assert_eq!(pk.block_received(p, blk(1, 16384, 7)), Received::Unwanted);
        pk.peer_have(p, 1);
        let asked = pk.next_requests(p, 5, Instant::now());
        assert_eq!(asked, [blk(1, 0, 16384), blk(1, 16384, 7)]);
        // Asked of p: taken from p once, but not from another peer.
        assert_eq!(pk.block_received(addr(2), asked[1]), Received::Unwanted);
        assert!(!accepted(pk.block_received(p, asked[1])).0);
        assert_eq!(pk.block_received(p, asked[1]), Received::Unwanted);
        assert!(
            accepted(pk.block_received(p, asked[0])).0,
            "piece 1 complete"
        );
    }

    #[test]
    fn zero_length_torrent() {
        let p = addr(1);
        let mut pk = Picker::new(16384, 0, Bitfield::new(0));
        assert!(pk.is_complete() && !pk.in_endgame());
        assert_eq!((pk.bytes_left(), pk.piece_size(0)), (0, 0));
        pk.peer_bitfield(p, &Bitfield::new(0));
        pk.peer_have(p, 0);
        assert!(!pk.interesting(p));
        assert!(pk.next_requests(p, 5, Instant::now()).is_empty());
        assert_eq!(pk.block_received(p, blk(0, 0, 16384)), Received::Unwanted);
        assert!(pk.piece_verified(0, false).is_empty());
        assert!(pk.expired(Instant::now(), Duration::ZERO).is_empty());
        pk.peer_choked(p);
        pk.remove_peer(p);
        pk.remove_peer(addr(2));
    }

    /// Three peers deliver every request, one block each per round, until complete; piece
    /// `fail` fails its first verification. Returns how many blocks were accepted.
    fn simulate(pl: u64, total: u64, max: usize, fail: u32) -> usize {
        let n = total.div_ceil(pl) as usize;
        let mut pk = Picker::with_seed(pl, total, Bitfield::new(n), 11);
        let peers = [addr(1), addr(2), addr(3)];
        pk.peer_bitfield(peers[0], &full(n));
        pk.peer_bitfield(peers[1], &bits(n, &(0..n).step_by(2).collect::<Vec<_>>()));
        for i in (0..n).filter(|i| i % 3 != 0) {
            pk.peer_have(peers[2], i as u32);
        }
        let mut queues: HashMap<PeerKey, VecDeque<Block>> = HashMap::new();
        let mut got: HashMap<Block, usize> = HashMap::new();
        let (mut failed, mut rounds, now) = (false, 0, Instant::now());
        let mut cancelled = 0;
        while !pk.is_complete() {
            rounds += 1;
            assert!(rounds < 100_000, "stuck");
            for k in peers {
                let new = pk.next_requests(k, max, now);
                for b in &new {
                    let twice = queues.iter().any(|(o, q)| *o != k && q.contains(b));
                    assert!(!twice || pk.in_endgame(), "{b:?} requested twice");
                }
                let q = queues.entry(k).or_default();
                assert!(new.iter().all(|b| !q.contains(b)));
                q.extend(new);
                assert_eq!(pk.outstanding(k), q.len());
            }
            for k in peers {
                let Some(b) = queues.entry(k).or_default().pop_front() else {
                    continue;
                };
                let (done, cancels) = accepted(pk.block_received(k, b));
                *got.entry(b).or_default() += 1;
                for (o, c) in cancels {
                    cancelled += 1;
                    queues.entry(o).or_default().retain(|x| *x != c);
                }
                if done && b.piece == fail && !failed {
                    failed = true;
                    assert!(pk.piece_verified(fail, false).contains(&k));
                } else if done {
                    assert!(pk.piece_verified(b.piece, true).is_empty());
                }
            }
        }
        assert!(failed && pk.bytes_left() == 0 && !pk.in_endgame());
        assert!(cancelled > 0, "the endgame was played");
        let mut grid = 0;
        for p in 0..n as u32 {
            let size = pk.piece_size(p);
            for i in 0..size.div_ceil(BLOCK_SIZE) as usize {
                let times = if p == fail { 2 } else { 1 };
                assert_eq!(got.get(&block_at(p, i, size)), Some(&times), "{p} {i}");
                grid += times;
            }
        }
        assert_eq!(got.values().sum::<usize>(), grid, "nothing off the grid");
        grid
    }

    #[test]
    fn full_simulated_download_with_three_peers() {
        assert_eq!(simulate(4 * B, 20 * 4 * B + 1000, 5, 3), 81 + 4);
        simulate(B + 1, 30 * B, 3, 0);
        simulate(256 * 1024, 64 << 20, 16, 100);
    }
}
