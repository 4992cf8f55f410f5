//! One account's session: credentials, the day's numbered stream, UserRefNum
//! high-water marks, open orders, and which connection (if any) is logged in.

use crate::config::AccountConfig;
use crate::engine::types::firm_id;
use crate::gateway::ConnId;
use crate::proto::ouch::{Firm, UserRefNums};
use crate::proto::wire::Alpha;

use super::orders::OrderMap;
use super::store::ReplayStore;

/// The UserRefIdx channel whose next UserRefNum a cancel-on-disconnect Mass Cancel
/// consumes (documented in `docs/PROTOCOL.md`).
pub const COD_CHANNEL: u8 = 255;

/// Cancel/Modify/Replace messages that may wait per account for an order in flight.
pub const MAX_DEFERRED: usize = 64;

/// A message waiting for the core's answer to the order it names.
#[derive(Debug, Clone, Copy)]
pub struct Deferred {
    /// UserRefIdx channel.
    pub idx: u8,
    /// The UserRefNum of the Enter/Replace in flight.
    pub on_user_ref_num: u32,
    /// The message, decoded.
    pub msg: crate::proto::ouch::Inbound,
}

/// One order-entry account and its session state for the day.
#[derive(Debug)]
pub struct Account {
    /// Login username.
    pub username: Alpha<6>,
    /// Login password.
    pub password: Alpha<10>,
    /// Firm stamped on orders, as OUCH alpha.
    pub firm: Firm,
    /// Firm as the core's id.
    pub firm_id: u32,
    /// Cancel open orders when the connection drops.
    pub cancel_on_disconnect: bool,
    /// The logged-in connection.
    pub conn: Option<ConnId>,
    /// The shared-memory slot of the logged-in algo (never both this and `conn`).
    pub shm_slot: Option<usize>,
    /// The day's sequenced stream.
    pub store: ReplayStore,
    /// The stream is finished (store full): logins get `J`/`S`.
    pub ended: bool,
    /// UserRefNum high-water marks per UserRefIdx channel.
    pub user_ref_nums: UserRefNums,
    /// Open orders by UserRefNum.
    pub orders: OrderMap,
    /// Disable Order Entry is in force: Enter Orders are rejected.
    pub entry_disabled: bool,
    /// Messages waiting for an order in flight (capacity [`MAX_DEFERRED`]).
    pub deferred: Vec<Deferred>,
    /// Next sequence number to send to `conn`; below `store.next_sequence_number()`
    /// while a replay is in progress.
    pub send_next: u64,
}

/// Why an account entry in the config is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAccount(pub String);

impl Account {
    /// Builds the account, reserving its replay store and order map.
    pub fn new(
        cfg: &AccountConfig,
        replay_bytes: usize,
        max_open_orders: usize,
    ) -> Result<Self, BadAccount> {
        let (user, pass, firm) = (&cfg.username, &cfg.password, &cfg.firm);
        let bad = |what: &str| BadAccount(format!("account {user:?}: {what}"));
        let username = Alpha::try_padded(user).map_err(|_| bad("username over 6 characters"))?;
        let password = Alpha::try_padded(pass).map_err(|_| bad("password over 10 characters"))?;
        let firm_alpha = Alpha::try_padded(firm).map_err(|_| bad("firm over 4 characters"))?;
        if user.trim().is_empty() || !user.is_ascii() || !pass.is_ascii() || !firm.is_ascii() {
            return Err(bad("username, password and firm must be non-empty ASCII"));
        }
        Ok(Self {
            username,
            password,
            firm: firm_alpha,
            firm_id: firm_id(firm),
            cancel_on_disconnect: cfg.cancel_on_disconnect,
            conn: None,
            shm_slot: None,
            store: ReplayStore::new(replay_bytes),
            ended: false,
            user_ref_nums: UserRefNums::new(),
            orders: OrderMap::new(max_open_orders),
            entry_disabled: false,
            deferred: Vec::with_capacity(MAX_DEFERRED),
            send_next: 1,
        })
    }

    /// Whether the logged-in client is being replayed older messages.
    #[inline]
    pub fn replaying(&self) -> bool {
        self.conn.is_some() && self.send_next < self.store.next_sequence_number()
    }
}
