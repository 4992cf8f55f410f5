//! A deterministic synthetic order stream shaped like an ITCH day: ≈45% adds near the
//! touch, ≈40% cancels, ≈10% marketable orders, ≈5% replaces, over many instruments.
//!
//! The stream does not look at any engine's results, so every venue gets exactly the same
//! commands. Cancels and replaces target orders the generator added and has not itself
//! cancelled; some of those were filled meanwhile, so some cancels miss (as in any
//! venue-agnostic replay). As on a real ITCH day, most cancels hit young orders: three
//! in four target one of the 64 youngest live orders of the instrument, the rest any.
//! Generation never allocates after [`Stream::new`].

/// What a generated command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GenKind {
    /// A Day limit order that (usually) rests near the touch.
    #[default]
    Add,
    /// Cancel all of order `id`.
    Cancel,
    /// Replace order `id` with a new price and quantity (loses priority).
    Replace,
    /// An IOC limit order priced through the touch.
    Marketable,
    /// A market order (IOC at the band limit).
    Market,
    /// Cancel every order of the session (exotic streams only).
    MassCancel,
}

/// Flag: hidden (not displayed).
pub const FLAG_HIDDEN: u8 = 1;
/// Flag: reserve order showing a fifth of its quantity.
pub const FLAG_RESERVE: u8 = 2;
/// Flag: post-only.
pub const FLAG_POST_ONLY: u8 = 4;
/// Flag: GTT with a one-second expiry.
pub const FLAG_GTT: u8 = 8;
/// Flag: the second firm, with self-match prevention "decrement both".
pub const FLAG_STP: u8 = 16;

/// One generated command, venue independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenCmd {
    /// What to do.
    pub kind: GenKind,
    /// Instrument index.
    pub instrument: u16,
    /// Buy (true) or sell.
    pub buy: bool,
    /// Limit price (4 implied decimals); unused for cancels and market orders.
    pub price: u64,
    /// Quantity.
    pub qty: u32,
    /// Order id: new for adds and marketable orders, the target for cancels/replaces.
    pub id: u64,
    /// Dense slot of a tracked order (adds, cancels, replaces), `< Stream::slots()`:
    /// venues keep their id map indexed by it, as a session layer keeps one per live
    /// order.
    pub slot: u32,
    /// `FLAG_*` bits (exotic streams only).
    pub flags: u8,
    /// Command time, ns since midnight.
    pub ts_ns: u64,
}

/// Shape of a stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamConfig {
    /// Number of instruments.
    pub instruments: u16,
    /// RNG seed.
    pub seed: u64,
    /// Tick size (price units).
    pub tick: u64,
    /// Reference price of every instrument (price units).
    pub reference_price: u64,
    /// Time between commands.
    pub ts_step_ns: u64,
    /// Mix in hidden, reserve, post-only, GTT, STP orders and mass cancels.
    pub exotic: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            instruments: 100,
            seed: 0x5EED_0000_71C6_6A7E,
            tick: 100,
            reference_price: 1_000_000,
            ts_step_ns: 1_000,
            exotic: false,
        }
    }
}

/// Live ids tracked per instrument; when full, the next add becomes a cancel of the
/// oldest, so every order is eventually cancelled or filled and books stay bounded.
const LIVE_CAP: usize = 1024;
/// How far (in ticks) a mid price may wander from the reference.
const MAX_DRIFT_TICKS: i64 = 400;

/// The generator.
#[derive(Debug, Clone)]
pub struct Stream {
    cfg: StreamConfig,
    rng: u64,
    next_id: u64,
    ts_ns: u64,
    /// Mid price of each instrument in ticks from the reference.
    mids: Vec<i64>,
    /// Per instrument, oldest first: (`id << 1 | buy`, slot) the generator believes live.
    live: Vec<Vec<(u64, u32)>>,
    /// Per instrument: free slots.
    free: Vec<Vec<u32>>,
}

impl Stream {
    /// A stream; the same config always yields the same commands.
    pub fn new(cfg: StreamConfig) -> Self {
        let n = usize::from(cfg.instruments.max(1));
        Stream {
            cfg,
            rng: cfg.seed | 1,
            next_id: 1,
            ts_ns: 34_200_000_000_000, // 09:30
            mids: vec![0; n],
            live: (0..n).map(|_| Vec::with_capacity(LIVE_CAP)).collect(),
            free: (0..n)
                .map(|i| {
                    (0..LIVE_CAP as u32)
                        .rev()
                        .map(|s| (i * LIVE_CAP) as u32 + s)
                        .collect()
                })
                .collect(),
        }
    }

    /// Number of distinct slots this stream's commands use.
    pub fn slots(&self) -> usize {
        self.live.len() * LIVE_CAP
    }

    #[inline]
    fn rand(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fills `out` with the next commands.
    pub fn fill(&mut self, out: &mut [GenCmd]) {
        for c in out {
            *c = self.next_cmd();
        }
    }

    /// The next command.
    pub fn next_cmd(&mut self) -> GenCmd {
        self.ts_ns += self.cfg.ts_step_ns;
        let r = self.rand();
        let n = u64::from(self.cfg.instruments.max(1));
        // Skewed towards low indices: a few hot symbols, a long tail.
        let instrument = ((r % n).min((r >> 20) % n)) as u16;
        if (r >> 40).is_multiple_of(200) {
            self.drift(instrument, r >> 48);
        }
        let mut c = match (r >> 32) % 100 {
            0..=44 => self.add(instrument),
            45..=84 => self.cancel(instrument),
            85..=94 => self.marketable(instrument),
            _ => self.replace(instrument),
        };
        if self.cfg.exotic {
            self.exotic(&mut c);
        }
        c.ts_ns = self.ts_ns;
        c
    }

    fn drift(&mut self, instrument: u16, r: u64) {
        let m = &mut self.mids[usize::from(instrument)];
        *m = (*m + if r & 1 == 0 { 1 } else { -1 }).clamp(-MAX_DRIFT_TICKS, MAX_DRIFT_TICKS);
    }

    /// A price `away` ticks from the mid on the passive side of `buy`.
    fn price(&self, instrument: u16, buy: bool, away: i64) -> u64 {
        let ticks = self.mids[usize::from(instrument)] + if buy { -away } else { away };
        (self.cfg.reference_price as i64 + ticks * self.cfg.tick as i64) as u64
    }

    /// Distance from the mid: 1 tick half the time, geometric tail.
    fn distance(&mut self) -> i64 {
        1 + i64::from(self.rand().trailing_zeros().min(20))
    }

    fn add(&mut self, instrument: u16) -> GenCmd {
        if self.live[usize::from(instrument)].len() >= LIVE_CAP {
            return self.cancel_at(instrument, 0);
        }
        let r = self.rand();
        let buy = r & 1 == 0;
        let away = self.distance();
        let id = self.next_id;
        self.next_id += 1;
        let i = usize::from(instrument);
        let slot = self.free[i].pop().unwrap_or_default();
        self.live[i].push((id << 1 | u64::from(buy), slot));
        GenCmd {
            kind: GenKind::Add,
            instrument,
            buy,
            price: self.price(instrument, buy, away),
            qty: 100 * (1 + (r >> 16) as u32 % 5),
            id,
            slot,
            ..GenCmd::default()
        }
    }

    /// Index of a cancel/replace target among `len` live ids, biased to the youngest.
    fn pick(&mut self, len: usize) -> usize {
        let r = self.rand();
        if r.is_multiple_of(4) {
            (r >> 8) as usize % len
        } else {
            len - 1 - (r >> 8) as usize % len.min(64)
        }
    }

    fn cancel(&mut self, instrument: u16) -> GenCmd {
        let len = self.live[usize::from(instrument)].len();
        if len == 0 {
            return self.add(instrument);
        }
        let j = self.pick(len);
        self.cancel_at(instrument, j)
    }

    /// Cancels the `j`-th (0 = oldest) tracked live order of an instrument.
    fn cancel_at(&mut self, instrument: u16, j: usize) -> GenCmd {
        let i = usize::from(instrument);
        let (e, slot) = self.live[i].remove(j);
        self.free[i].push(slot);
        GenCmd {
            kind: GenKind::Cancel,
            instrument,
            buy: e & 1 == 1,
            id: e >> 1,
            slot,
            ..GenCmd::default()
        }
    }

    fn replace(&mut self, instrument: u16) -> GenCmd {
        let i = usize::from(instrument);
        if self.live[i].is_empty() {
            return self.add(instrument);
        }
        let j = self.pick(self.live[i].len());
        let (e, slot) = self.live[i][j];
        let r = self.rand();
        let buy = e & 1 == 1;
        let away = self.distance();
        GenCmd {
            kind: GenKind::Replace,
            instrument,
            buy,
            price: self.price(instrument, buy, away),
            qty: 100 * (1 + (r >> 16) as u32 % 5),
            id: e >> 1,
            slot,
            ..GenCmd::default()
        }
    }

    fn marketable(&mut self, instrument: u16) -> GenCmd {
        let r = self.rand();
        let buy = r & 1 == 0;
        let id = self.next_id;
        self.next_id += 1;
        GenCmd {
            kind: if (r >> 8).is_multiple_of(5) {
                GenKind::Market
            } else {
                GenKind::Marketable
            },
            instrument,
            buy,
            price: self.price(instrument, buy, -2),
            qty: 100 * (1 + (r >> 16) as u32 % 3),
            id,
            ..GenCmd::default()
        }
    }

    fn exotic(&mut self, c: &mut GenCmd) {
        let r = self.rand();
        if c.kind == GenKind::Add {
            let pick = [
                0,
                FLAG_HIDDEN,
                FLAG_RESERVE,
                FLAG_POST_ONLY,
                FLAG_GTT,
                FLAG_STP,
            ];
            c.flags =
                pick[(r % 12) as usize % pick.len()] | if r >> 60 == 0 { FLAG_STP } else { 0 };
        } else if c.kind == GenKind::Marketable && (r >> 8).is_multiple_of(4) {
            c.flags = FLAG_STP;
        } else if c.kind == GenKind::Cancel && (r >> 16).is_multiple_of(2000) {
            c.kind = GenKind::MassCancel;
        }
    }
}
