//! ITCH 5.0 market data: the order-by-order subset tickgate publishes
//! (`PROTOCOLS.md` §3) and the standard ITCH file format.
//!
//! Every message is `u8 type`, `u16 stock_locate`, `u16 tracking_number`,
//! `u48 timestamp` (ns since midnight), then a fixed body; each type has one exact
//! length, asserted at compile time. Prices are 4 bytes with 4 implied decimals.
//!
//! ```
//! use tickgate::proto::itch::*;
//! let delete = OrderDelete {
//!     header: Header { stock_locate: 1, tracking_number: 0, timestamp_ns: 5 },
//!     order_reference_number: 42,
//! };
//! let mut buf = [0u8; Message::MAX_LEN];
//! let len = delete.encode(&mut buf).unwrap();
//! assert_eq!(len, OrderDelete::LEN);
//! assert_eq!(Message::decode(&buf[..len]), Ok(Message::OrderDelete(delete)));
//! ```

use core::fmt;
use std::io::{self, Read, Write};

use crate::proto::wire::{
    Alpha, BufferTooSmall, InvalidValue, Reader, WireField, Writer, byte_enum, room,
};

/// The common header after the type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// The instrument's locate code (tickgate: its dense instrument index).
    pub stock_locate: u16,
    /// Tracking number (tickgate: 0).
    pub tracking_number: u16,
    /// Nanoseconds since midnight; 48 bits on the wire (higher bits are dropped).
    pub timestamp_ns: u64,
}

impl WireField for Header {
    const LEN: usize = 10;
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidValue> {
        let stock_locate = u16::read(r)?;
        let tracking_number = u16::read(r)?;
        let [a, b, c, d, e, f] = r.array::<6>();
        let timestamp_ns = u64::from_be_bytes([0, 0, a, b, c, d, e, f]);
        Ok(Self {
            stock_locate,
            tracking_number,
            timestamp_ns,
        })
    }
    fn write(&self, w: &mut Writer<'_>) {
        self.stock_locate.write(w);
        self.tracking_number.write(w);
        w.bytes(&self.timestamp_ns.to_be_bytes()[2..]);
    }
}

/// An ITCH price: 4 bytes, 4 implied decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price4(pub u32);

impl WireField for Price4 {
    const LEN: usize = 4;
    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidValue> {
        u32::read(r).map(Price4)
    }
    fn write(&self, w: &mut Writer<'_>) {
        self.0.write(w);
    }
}

/// Stock symbol, 8 bytes alpha.
pub type Stock = Alpha<8>;

byte_enum! {
    /// System Event code.
    pub enum EventCode: ItchEventCode {
        /// `O`: start of messages.
        StartOfMessages = b'O',
        /// `S`: start of system hours.
        StartOfSystemHours = b'S',
        /// `Q`: start of market hours.
        StartOfMarketHours = b'Q',
        /// `M`: end of market hours.
        EndOfMarketHours = b'M',
        /// `E`: end of system hours.
        EndOfSystemHours = b'E',
        /// `C`: end of messages.
        EndOfMessages = b'C',
    }
}

byte_enum! {
    /// Buy/Sell Indicator.
    pub enum BuySell: ItchSide {
        /// `B`: buy.
        Buy = b'B',
        /// `S`: sell.
        Sell = b'S',
    }
}

byte_enum! {
    /// Trading state of a Stock Trading Action.
    pub enum TradingState: TradingState {
        /// `H`: halted.
        Halted = b'H',
        /// `P`: paused.
        Paused = b'P',
        /// `Q`: quotation only.
        QuotationOnly = b'Q',
        /// `T`: trading.
        Trading = b'T',
    }
}

byte_enum! {
    /// Printable flag of an Order Executed With Price.
    pub enum Printable: Printable {
        /// `Y`: printable.
        Printable = b'Y',
        /// `N`: non-printable.
        NonPrintable = b'N',
    }
}

/// Why bytes are not a valid ITCH message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItchError {
    /// A zero-length message.
    Empty,
    /// A type byte outside the supported subset.
    UnknownType(u8),
    /// A type-specific decoder was handed another type.
    UnexpectedType {
        /// The decoder's type.
        expected: u8,
        /// The message's type byte.
        found: u8,
    },
    /// Not the type's one exact length.
    WrongLength {
        /// The type byte.
        message_type: u8,
        /// The message's length.
        len: usize,
    },
    /// An enumerated field holds an undefined value.
    InvalidValue(InvalidValue),
}

impl fmt::Display for ItchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad ITCH message: {self:?}")
    }
}

impl std::error::Error for ItchError {}

fn check_message(msg: &[u8], message_type: u8, len: usize) -> Result<(), ItchError> {
    let found = *msg.first().ok_or(ItchError::Empty)?;
    if found != message_type {
        Err(ItchError::UnexpectedType {
            expected: message_type,
            found,
        })
    } else if msg.len() != len {
        Err(ItchError::WrongLength {
            message_type,
            len: msg.len(),
        })
    } else {
        Ok(())
    }
}

macro_rules! itch_message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident = $ty:literal, $len:literal {
            $($(#[$fmeta:meta])* pub $field:ident: $fty:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            /// Stock locate, tracking number, timestamp.
            pub header: Header,
            $($(#[$fmeta])* pub $field: $fty,)*
        }

        impl $name {
            /// The message type byte.
            pub const TYPE: u8 = $ty;
            /// The exact message length.
            pub const LEN: usize = 1 + <Header as WireField>::LEN $(+ <$fty as WireField>::LEN)*;

            /// Decodes one whole message (type byte first).
            pub fn decode(msg: &[u8]) -> Result<Self, ItchError> {
                check_message(msg, Self::TYPE, Self::LEN)?;
                let mut r = Reader::new(&msg[1..]);
                let header = Header::read(&mut r).map_err(ItchError::InvalidValue)?;
                $(let $field = <$fty as WireField>::read(&mut r).map_err(ItchError::InvalidValue)?;)*
                Ok(Self { header, $($field,)* })
            }

            /// Encodes the message into the front of `out`; returns [`Self::LEN`].
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
                let mut w = Writer::new(room(out, Self::LEN)?);
                w.u8(Self::TYPE);
                self.header.write(&mut w);
                $(self.$field.write(&mut w);)*
                Ok(Self::LEN)
            }
        }

        const _: () = assert!($name::LEN == $len, "length differs from PROTOCOLS.md §3");
    };
}

itch_message! {
    /// `S` System Event.
    pub struct SystemEvent = b'S', 12 {
        /// Event code.
        pub event_code: EventCode,
    }
}

itch_message! {
    /// `R` Stock Directory.
    pub struct StockDirectory = b'R', 39 {
        /// Stock symbol.
        pub stock: Stock,
        /// Market Category.
        pub market_category: u8,
        /// Financial Status Indicator.
        pub financial_status_indicator: u8,
        /// Round Lot Size.
        pub round_lot_size: u32,
        /// Round Lots Only (`Y`/`N`).
        pub round_lots_only: u8,
        /// Issue Classification.
        pub issue_classification: u8,
        /// Issue Sub-Type.
        pub issue_sub_type: Alpha<2>,
        /// Authenticity (`P` live/production, `T` test).
        pub authenticity: u8,
        /// Short Sale Threshold Indicator.
        pub short_sale_threshold_indicator: u8,
        /// IPO Flag.
        pub ipo_flag: u8,
        /// LULD Reference Price Tier.
        pub luld_reference_price_tier: u8,
        /// ETP Flag.
        pub etp_flag: u8,
        /// ETP Leverage Factor.
        pub etp_leverage_factor: u32,
        /// Inverse Indicator.
        pub inverse_indicator: u8,
    }
}

itch_message! {
    /// `H` Stock Trading Action.
    pub struct StockTradingAction = b'H', 25 {
        /// Stock symbol.
        pub stock: Stock,
        /// Trading state.
        pub trading_state: TradingState,
        /// Reserved.
        pub reserved: u8,
        /// Reason (4 alpha).
        pub reason: Alpha<4>,
    }
}

itch_message! {
    /// `A` Add Order (no MPID attribution).
    pub struct AddOrder = b'A', 36 {
        /// Day-unique order reference number.
        pub order_reference_number: u64,
        /// Buy/Sell Indicator.
        pub buy_sell_indicator: BuySell,
        /// Shares.
        pub shares: u32,
        /// Stock symbol.
        pub stock: Stock,
        /// Display price.
        pub price: Price4,
    }
}

itch_message! {
    /// `E` Order Executed.
    pub struct OrderExecuted = b'E', 31 {
        /// Order reference number.
        pub order_reference_number: u64,
        /// Executed Shares.
        pub executed_shares: u32,
        /// Match Number.
        pub match_number: u64,
    }
}

itch_message! {
    /// `C` Order Executed With Price.
    pub struct OrderExecutedWithPrice = b'C', 36 {
        /// Order reference number.
        pub order_reference_number: u64,
        /// Executed Shares.
        pub executed_shares: u32,
        /// Match Number.
        pub match_number: u64,
        /// Printable.
        pub printable: Printable,
        /// Execution Price.
        pub execution_price: Price4,
    }
}

itch_message! {
    /// `X` Order Cancel (partial).
    pub struct OrderCancel = b'X', 23 {
        /// Order reference number.
        pub order_reference_number: u64,
        /// Cancelled Shares.
        pub cancelled_shares: u32,
    }
}

itch_message! {
    /// `D` Order Delete.
    pub struct OrderDelete = b'D', 19 {
        /// Order reference number.
        pub order_reference_number: u64,
    }
}

itch_message! {
    /// `U` Order Replace.
    pub struct OrderReplace = b'U', 35 {
        /// Original Order Reference Number.
        pub original_order_reference_number: u64,
        /// New Order Reference Number.
        pub new_order_reference_number: u64,
        /// Shares.
        pub shares: u32,
        /// Price.
        pub price: Price4,
    }
}

itch_message! {
    /// `P` Trade (non-cross): executions of hidden orders.
    pub struct Trade = b'P', 44 {
        /// Order reference number.
        pub order_reference_number: u64,
        /// Buy/Sell Indicator.
        pub buy_sell_indicator: BuySell,
        /// Shares.
        pub shares: u32,
        /// Stock symbol.
        pub stock: Stock,
        /// Price.
        pub price: Price4,
        /// Match Number.
        pub match_number: u64,
    }
}

macro_rules! message_enum {
    ($($variant:ident),+ $(,)?) => {
        /// Any supported ITCH message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Message {
            $(
                #[doc = concat!("See [`", stringify!($variant), "`].")]
                $variant($variant),
            )+
        }

        impl Message {
            /// The longest supported message.
            pub const MAX_LEN: usize = {
                let mut max = 0;
                $(if $variant::LEN > max { max = $variant::LEN; })+
                max
            };

            /// Decodes one whole message.
            pub fn decode(msg: &[u8]) -> Result<Message, ItchError> {
                match *msg.first().ok_or(ItchError::Empty)? {
                    $($variant::TYPE => $variant::decode(msg).map(Message::$variant),)+
                    other => Err(ItchError::UnknownType(other)),
                }
            }

            /// Encodes the message into the front of `out`; returns the bytes written.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
                match self {
                    $(Message::$variant(m) => m.encode(out),)+
                }
            }

            /// The common header.
            pub fn header(&self) -> &Header {
                match self {
                    $(Message::$variant(m) => &m.header,)+
                }
            }

            /// The exact encoded length of a message of type `message_type`.
            pub const fn len_of(message_type: u8) -> Option<usize> {
                match message_type {
                    $($variant::TYPE => Some($variant::LEN),)+
                    _ => None,
                }
            }
        }
    };
}

message_enum!(
    SystemEvent,
    StockDirectory,
    StockTradingAction,
    AddOrder,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderCancel,
    OrderDelete,
    OrderReplace,
    Trade,
);

/// A record of the ITCH file format whose `u16` length runs past the end of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncatedRecord {
    /// Offset of the record's length prefix.
    pub offset: usize,
}

/// Iterates over the messages of an in-memory ITCH file (each prefixed by a `u16`
/// big-endian length). Yields one error and stops if the data ends mid-record.
pub fn file_records(data: &[u8]) -> FileRecords<'_> {
    FileRecords { data, offset: 0 }
}

/// Iterator returned by [`file_records`].
#[derive(Debug, Clone)]
pub struct FileRecords<'a> {
    data: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for FileRecords<'a> {
    type Item = Result<&'a [u8], TruncatedRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.data[self.offset..];
        if rest.is_empty() {
            return None;
        }
        let record = match rest {
            [hi, lo, body @ ..] => body.get(..usize::from(u16::from_be_bytes([*hi, *lo]))),
            _ => None,
        };
        let Some(message) = record else {
            let error = TruncatedRecord {
                offset: self.offset,
            };
            self.offset = self.data.len();
            return Some(Err(error));
        };
        self.offset += 2 + message.len();
        Some(Ok(message))
    }
}

/// Writes the ITCH file format: each message preceded by its `u16` big-endian length.
#[derive(Debug)]
pub struct FileWriter<W: Write> {
    inner: W,
}

impl<W: Write> FileWriter<W> {
    /// Wraps a writer (wrap it in a `BufWriter` for files).
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    /// Appends one message.
    ///
    /// # Errors
    /// I/O errors, and `InvalidInput` for a message longer than 65 535 bytes.
    pub fn write_message(&mut self, message: &[u8]) -> io::Result<()> {
        let len = u16::try_from(message.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "ITCH message over 65535 bytes")
        })?;
        self.inner.write_all(&len.to_be_bytes())?;
        self.inner.write_all(message)
    }

    /// Encodes and appends one message.
    pub fn write(&mut self, message: &Message) -> io::Result<()> {
        let mut buf = [0u8; Message::MAX_LEN];
        let len = message.encode(&mut buf).map_err(io::Error::other)?;
        self.write_message(&buf[..len])
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Reads the ITCH file format one message at a time into a fixed 64 KiB buffer.
#[derive(Debug)]
pub struct FileReader<R: Read> {
    inner: R,
    buf: Box<[u8; u16::MAX as usize]>,
}

impl<R: Read> FileReader<R> {
    /// Wraps a reader (wrap it in a `BufReader` for files).
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Box::new([0; u16::MAX as usize]),
        }
    }

    /// The next message's bytes, or `None` at a clean end of file.
    ///
    /// # Errors
    /// I/O errors; `UnexpectedEof` if the file ends inside a record.
    pub fn next_message(&mut self) -> io::Result<Option<&[u8]>> {
        let mut len = [0u8; 2];
        match self.inner.read(&mut len[..1])? {
            0 => return Ok(None),
            _ => self.inner.read_exact(&mut len[1..])?,
        }
        let len = usize::from(u16::from_be_bytes(len));
        self.inner.read_exact(&mut self.buf[..len])?;
        Ok(Some(&self.buf[..len]))
    }
}
