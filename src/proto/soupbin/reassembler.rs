//! Framing arbitrary TCP chunks into SoupBinTCP packets.

use core::ops::ControlFlow;

use super::{
    Direction, FrameError, HEADER_LEN, MAX_PACKET_LEN, Packet, check_header, check_length_field,
    decode_frame,
};

/// Turns a TCP byte stream, delivered in chunks split and merged at any point, into
/// whole packets.
///
/// Whole packets inside a chunk are decoded in place from the chunk; only a packet
/// that straddles chunks is copied, into a fixed buffer of [`MAX_PACKET_LEN`] bytes
/// owned by the reassembler. No allocation, ever. Header errors (length 0 or too long,
/// unknown type, wrong length for a fixed-size type) are reported as soon as the
/// three header bytes have arrived; after an error the stream is unusable and every
/// later call returns the same error.
///
/// ```
/// use core::ops::ControlFlow;
/// use tickgate::proto::soupbin::*;
/// let mut framer = Reassembler::new(Direction::ClientToServer);
/// let mut seen = Vec::new();
/// for chunk in [&b"\x00\x01R\x00"[..], b"\x03Uhi\x00", b"\x01O"] {
///     framer.feed(chunk, |p| { seen.push(p.packet_type()); ControlFlow::Continue(()) }).unwrap();
/// }
/// assert_eq!(seen, b"RUO");
/// ```
#[derive(Debug, Clone)]
pub struct Reassembler {
    direction: Direction,
    /// Invariant: `pending < buf.len()`, and `buf[..pending]` is the start of one
    /// packet whose header (as far as present) has passed the checks.
    pending: usize,
    error: Option<FrameError>,
    buf: [u8; MAX_PACKET_LEN],
}

impl Reassembler {
    /// An empty reassembler for packets travelling in `direction`.
    pub const fn new(direction: Direction) -> Self {
        Self {
            direction,
            pending: 0,
            error: None,
            buf: [0; MAX_PACKET_LEN],
        }
    }

    /// Forgets any partial packet and error (to reuse the slot for a new connection).
    pub fn reset(&mut self) {
        self.pending = 0;
        self.error = None;
    }

    /// Whether it holds nothing (no partial packet, no error): the next chunk's
    /// whole packets can then be decoded straight from the chunk with
    /// [`super::decode_frame`], and only a trailing partial packet fed here.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pending == 0 && self.error.is_none()
    }

    /// Bytes of an incomplete packet held from earlier chunks.
    pub fn pending_bytes(&self) -> usize {
        self.pending
    }

    /// Feeds one chunk; calls `on_packet` for every packet completed, in order.
    ///
    /// Returns the bytes of `chunk` consumed: all of them, unless `on_packet` returned
    /// `Break`, in which case the bytes after that packet are left for the caller to
    /// feed again later. A framing error stops at once and sticks.
    pub fn feed<F>(&mut self, chunk: &[u8], mut on_packet: F) -> Result<usize, FrameError>
    where
        F: FnMut(Packet<'_>) -> ControlFlow<()>,
    {
        if let Some(error) = self.error {
            return Err(error);
        }
        let result = self.feed_inner(chunk, &mut on_packet);
        if let Err(error) = result {
            self.error = Some(error);
        }
        result
    }

    fn feed_inner<F>(&mut self, chunk: &[u8], on_packet: &mut F) -> Result<usize, FrameError>
    where
        F: FnMut(Packet<'_>) -> ControlFlow<()>,
    {
        let mut used = 0;
        if self.pending > 0 {
            let (taken, complete) = self.fill_pending(chunk)?;
            used = taken;
            if !complete {
                return Ok(used);
            }
            let flow = self.deliver_pending(on_packet)?;
            if flow.is_break() {
                return Ok(used);
            }
        }
        while used < chunk.len() {
            let rest = &chunk[used..];
            match decode_frame(rest, self.direction)? {
                Some((packet, len)) => {
                    used += len;
                    if on_packet(packet).is_break() {
                        return Ok(used);
                    }
                }
                None => {
                    self.buf[..rest.len()].copy_from_slice(rest);
                    self.pending = rest.len();
                    used = chunk.len();
                }
            }
        }
        Ok(used)
    }

    /// Hands the completed pending packet to `on_packet` and empties the buffer.
    fn deliver_pending<F>(&mut self, on_packet: &mut F) -> Result<ControlFlow<()>, FrameError>
    where
        F: FnMut(Packet<'_>) -> ControlFlow<()>,
    {
        let decoded = decode_frame(&self.buf[..self.pending], self.direction)?;
        // fill_pending reported a complete packet, so `decoded` is `Some`.
        debug_assert!(decoded.is_some());
        let flow = decoded.map_or(ControlFlow::Continue(()), |(packet, _)| on_packet(packet));
        self.pending = 0;
        Ok(flow)
    }

    /// Copies from `chunk` until the pending packet is complete or the chunk is used up.
    /// Returns the bytes taken and whether the packet is complete.
    fn fill_pending(&mut self, chunk: &[u8]) -> Result<(usize, bool), FrameError> {
        let mut used = 0;
        loop {
            let (target, complete_at_target) = self.pending_target()?;
            if self.pending == target && complete_at_target {
                return Ok((used, true));
            }
            let take = (target - self.pending).min(chunk.len() - used);
            if take == 0 {
                return Ok((used, false));
            }
            self.buf[self.pending..self.pending + take].copy_from_slice(&chunk[used..used + take]);
            self.pending += take;
            used += take;
        }
    }

    /// How many bytes the pending packet needs before more can be learnt about it,
    /// and whether that many completes it. Never equal to `pending` unless complete.
    fn pending_target(&self) -> Result<(usize, bool), FrameError> {
        if self.pending < 2 {
            return Ok((2, false));
        }
        let len = u16::from_be_bytes([self.buf[0], self.buf[1]]);
        check_length_field(len, self.direction)?;
        let total = 2 + usize::from(len);
        if self.pending < HEADER_LEN {
            return Ok((HEADER_LEN, total == HEADER_LEN));
        }
        check_header(len, self.buf[2], self.direction)?;
        Ok((total, true))
    }
}
