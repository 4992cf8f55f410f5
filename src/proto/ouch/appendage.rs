//! The optional appendage: concatenated TagValue elements (spec §1.2, Appendix A).
//!
//! ```text
//! TagValue: Length u8 (bytes that follow: tag + value) | OptionTag u8 | OptionValue
//! ```
//! Every tag Appendix A defines decodes into a typed field of [`Options`]. A message
//! accepts only the tags its table lists; an unknown tag, a tag the message does not
//! list, a repeated tag, or a value of the wrong size is an [`AppendageError`].

use core::fmt;

use super::reasons::RejectReason;
use super::types::{Firm, PostOnly, Price, PriceType, Side};
use crate::proto::wire::{Alpha, FieldKind, InvalidValue, WireField, Writer, read_exact};

macro_rules! options {
    ($($(#[$m:meta])* $tag:literal => $variant:ident, $field:ident: $ty:ty;)+) => {
        /// An OptionTag defined by Appendix A.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Tag {
            $($(#[$m])* $variant = $tag,)+
        }

        impl Tag {
            /// Every defined tag, in tag order.
            pub const ALL: &[Tag] = &[$(Tag::$variant,)+];

            /// The tag for `byte`, or `None` if Appendix A does not define it.
            pub const fn from_byte(byte: u8) -> Option<Tag> {
                match byte {
                    $($tag => Some(Tag::$variant),)+
                    _ => None,
                }
            }

            /// Size of the option value (the element's Length byte is this plus one).
            pub const fn value_len(self) -> usize {
                match self {
                    $(Tag::$variant => <$ty as WireField>::LEN,)+
                }
            }
        }

        /// The decoded options appendage: one field per Appendix A tag, `None` when
        /// the tag was absent.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct Options {
            $($(#[$m])* pub $field: Option<$ty>,)+
        }

        impl Options {
            /// No options.
            pub const NONE: Options = Options { $($field: None,)+ };

            /// The tags present.
            pub fn tags(&self) -> TagSet {
                let mut set = TagSet::EMPTY;
                $(if self.$field.is_some() { set = set.with(Tag::$variant); })+
                set
            }

            fn set(&mut self, tag: Tag, value: &[u8]) -> Result<(), InvalidValue> {
                match tag {
                    $(Tag::$variant => self.$field = Some(read_exact(value)?),)+
                }
                Ok(())
            }

            /// Writes the TagValue element of OptionTag `tag` if it is present.
            fn write_element(&self, tag: u32, w: &mut Writer<'_>) {
                match tag {
                    $($tag => if let Some(value) = &self.$field {
                        w.u8(1 + <$ty as WireField>::LEN as u8);
                        w.u8($tag);
                        value.write(w);
                    },)+
                    _ => {}
                }
            }
        }

        /// Read access to the options of a message, whether decoded ([`Options`]) or
        /// kept as the checked appendage bytes ([`Appendage`]): one method per tag,
        /// `None` when the tag is absent.
        pub trait OptionValues: Copy {
            $($(#[$m])* fn $field(&self) -> Option<$ty>;)+

            /// True if no option is present.
            fn is_empty(&self) -> bool;

            /// All the options, decoded.
            fn to_options(&self) -> Options;
        }

        impl OptionValues for Options {
            $(#[inline]
            fn $field(&self) -> Option<$ty> {
                self.$field
            })+

            #[inline]
            fn is_empty(&self) -> bool {
                self.tags().is_empty()
            }

            #[inline]
            fn to_options(&self) -> Options {
                *self
            }
        }

        impl OptionValues for Appendage<'_> {
            $(#[inline]
            fn $field(&self) -> Option<$ty> {
                self.find(Tag::$variant).and_then(|v| read_exact(v).ok())
            })+

            #[inline]
            fn is_empty(&self) -> bool {
                self.tags.is_empty()
            }

            fn to_options(&self) -> Options {
                let mut options = Options::NONE;
                // Checked when the view was made: this decode cannot fail.
                let _ = options.decode_into(self.bytes, self.tags);
                options
            }
        }

        /// Size of each tag's option value, indexed by OptionTag (0 for undefined tags).
        const VALUE_LEN: [u8; 32] = {
            let mut lens = [0u8; 32];
            $(lens[$tag] = <$ty as WireField>::LEN as u8;)+
            lens
        };
    };
}

options! {
    /// 1 SecondaryOrdRefNum: alternative order reference on the market data feeds.
    1 => SecondaryOrdRefNum, secondary_ord_ref_num: u64;
    /// 2 Firm: entering firm (blank = the account's default firm).
    2 => Firm, firm: Firm;
    /// 3 MinQty: minimum quantity (a round lot); 0 = none.
    3 => MinQty, min_qty: u32;
    /// 4 CustomerType: `R` retail designated, `N` not (raw byte).
    4 => CustomerType, customer_type: u8;
    /// 5 MaxFloor: the displayed portion (reserve order); 0 = none.
    5 => MaxFloor, max_floor: u32;
    /// 6 PriceType: limit or a peg.
    6 => PriceType, price_type: PriceType;
    /// 7 PegOffset: signed price offset for a peg.
    7 => PegOffset, peg_offset: i32;
    /// 9 DiscretionPrice.
    9 => DiscretionPrice, discretion_price: Price;
    /// 10 DiscretionPriceType.
    10 => DiscretionPriceType, discretion_price_type: PriceType;
    /// 11 DiscretionPegOffset: signed price.
    11 => DiscretionPegOffset, discretion_peg_offset: i32;
    /// 12 PostOnly.
    12 => PostOnly, post_only: PostOnly;
    /// 13 RandomReserves: shares to do random reserve with.
    13 => RandomReserves, random_reserves: u32;
    /// 14 Route (alpha 4).
    14 => Route, route: Alpha<4>;
    /// 15 ExpireTime: seconds to live, less than 86400; 0 = none.
    15 => ExpireTime, expire_time: u32;
    /// 16 TradeNow: `Y`/`N`/space (raw byte).
    16 => TradeNow, trade_now: u8;
    /// 17 HandleInst (raw byte).
    17 => HandleInst, handle_inst: u8;
    /// 18 BBO Weight Indicator (raw byte).
    18 => BboWeightIndicator, bbo_weight_indicator: u8;
    /// 22 Display Quantity (Order Restated only).
    22 => DisplayQuantity, display_quantity: u32;
    /// 23 Display Price (Order Restated only).
    23 => DisplayPrice, display_price: Price;
    /// 24 Group ID; 0 = none.
    24 => GroupId, group_id: u16;
    /// 25 Shares Located: `Y`/`N` (raw byte).
    25 => SharesLocated, shares_located: u8;
    /// 26 Locate Broker (alpha 4).
    26 => LocateBroker, locate_broker: Alpha<4>;
    /// 27 Side (Replace Order, Mass Cancel).
    27 => Side, side: Side;
    /// 28 UserRefIdx: the order flow channel the UserRefNum belongs to.
    28 => UserRefIdx, user_ref_idx: u8;
}

/// Largest possible appendage: every defined tag once.
pub const MAX_APPENDAGE_LEN: usize = {
    let mut total = 0;
    let mut i = 0;
    while i < Tag::ALL.len() {
        total += 2 + Tag::ALL[i].value_len();
        i += 1;
    }
    total
};

/// An options appendage kept as its bytes, already checked as [`Options::decode`]
/// checks it (so every present value reads back): what the session layer reads a
/// received message's options through ([`OptionValues`]).
///
/// NB: decoding into an [`Options`] (≈ 150 bytes of `Option`s) wrote that much per
/// message even with no appendage, the common case; a view of an empty appendage is
/// two words, and each option read is one bit test (callgrind, `Sessions::on_ouch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appendage<'a> {
    bytes: &'a [u8],
    tags: TagSet,
}

impl<'a> Appendage<'a> {
    /// No options.
    pub const EMPTY: Appendage<'static> = Appendage {
        bytes: &[],
        tags: TagSet::EMPTY,
    };

    /// Checks an appendage as [`Options::decode`] does (same errors), accepting only
    /// the tags in `allowed`.
    #[inline]
    pub fn check(bytes: &'a [u8], allowed: TagSet) -> Result<Self, AppendageError> {
        if bytes.is_empty() {
            return Ok(Appendage {
                bytes,
                tags: TagSet::EMPTY,
            });
        }
        Self::check_elements(bytes, allowed)
    }

    #[inline(never)]
    fn check_elements(bytes: &'a [u8], allowed: TagSet) -> Result<Self, AppendageError> {
        let tags = Options::decode(bytes, allowed)?.tags();
        Ok(Appendage { bytes, tags })
    }

    /// The tags present.
    #[inline]
    pub fn tags(&self) -> TagSet {
        self.tags
    }

    /// The value bytes of `tag`, if present.
    #[inline]
    fn find(&self, tag: Tag) -> Option<&'a [u8]> {
        if !self.tags.contains(tag) {
            return None;
        }
        self.find_present(tag)
    }

    fn find_present(&self, tag: Tag) -> Option<&'a [u8]> {
        let mut rest = self.bytes;
        while let Some((&len, after)) = rest.split_first() {
            let (element, after) = after.split_at_checked(usize::from(len))?;
            let (&t, value) = element.split_first()?;
            if t == tag as u8 {
                return Some(value);
            }
            rest = after;
        }
        None
    }
}

/// A set of tags (bit `n` = OptionTag `n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagSet(u32);

impl TagSet {
    /// No tags.
    pub const EMPTY: TagSet = TagSet(0);

    /// The set of `tags`.
    pub const fn of(tags: &[Tag]) -> TagSet {
        let mut set = TagSet::EMPTY;
        let mut i = 0;
        while i < tags.len() {
            set = set.with(tags[i]);
            i += 1;
        }
        set
    }

    /// This set plus `tag`.
    pub const fn with(self, tag: Tag) -> TagSet {
        TagSet(self.0 | 1 << tag as u8)
    }

    /// True if `tag` is in the set.
    pub const fn contains(self, tag: Tag) -> bool {
        self.0 & (1 << tag as u8) != 0
    }

    /// True if the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Bytes the TagValue elements of these tags take (each: Length, OptionTag, value).
    #[inline]
    pub const fn appendage_len(self) -> usize {
        let mut bits = self.0;
        let mut total = 0;
        while bits != 0 {
            total += 2 + VALUE_LEN[bits.trailing_zeros() as usize] as usize;
            bits &= bits - 1;
        }
        total
    }
}

/// Why an options appendage could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendageError {
    /// A TagValue Length byte of 0 (an element holds at least its OptionTag).
    ZeroLengthElement,
    /// A TagValue element runs past the end of the appendage.
    TruncatedElement {
        /// The element's Length byte.
        element_len: u8,
        /// Bytes left in the appendage after the Length byte.
        remaining: usize,
    },
    /// An OptionTag that Appendix A does not define.
    UnknownTag(u8),
    /// A defined tag that this message type does not accept.
    TagNotAllowed(Tag),
    /// The same tag twice in one appendage.
    DuplicateTag(Tag),
    /// An option value whose size is not the tag's size.
    WrongValueLength {
        /// The tag.
        tag: Tag,
        /// The value's size on the wire.
        len: usize,
    },
    /// An option value outside its defined set.
    InvalidValue(InvalidValue),
}

impl AppendageError {
    /// The Rejected (`J`) reason an Enter or Replace Order with this appendage gets.
    pub fn reject_reason(&self) -> RejectReason {
        let tag = match *self {
            AppendageError::WrongValueLength { tag, .. } => tag,
            AppendageError::InvalidValue(v) if v.kind == FieldKind::Side => Tag::Side,
            AppendageError::InvalidValue(v) if v.kind == FieldKind::PriceType => Tag::PriceType,
            _ => return RejectReason::Other,
        };
        match tag {
            Tag::MinQty => RejectReason::InvalidMinQuantity,
            Tag::MaxFloor => RejectReason::InvalidMaxFloor,
            Tag::PriceType | Tag::DiscretionPriceType => RejectReason::InvalidPegType,
            Tag::Side => RejectReason::InvalidSide,
            _ => RejectReason::Other,
        }
    }
}

impl fmt::Display for AppendageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad options appendage: {self:?}")
    }
}

impl Options {
    /// Decodes an appendage, accepting only the tags in `allowed`.
    pub fn decode(appendage: &[u8], allowed: TagSet) -> Result<Options, AppendageError> {
        let mut options = Options::NONE;
        options.decode_into(appendage, allowed)?;
        Ok(options)
    }

    /// [`Options::decode`] into `self`, which holds no option yet ([`Options::NONE`]);
    /// on an error `self` may hold some of the options.
    ///
    /// NB: in place because a returned `Options` (≈ 150 bytes of `Option`s) cost ≈ 90
    /// instructions per message to copy out (callgrind); an empty appendage does no work.
    pub(crate) fn decode_into(
        &mut self,
        mut appendage: &[u8],
        allowed: TagSet,
    ) -> Result<(), AppendageError> {
        let mut seen = TagSet::EMPTY;
        while let Some((&element_len, rest)) = appendage.split_first() {
            let len = usize::from(element_len);
            if len == 0 {
                return Err(AppendageError::ZeroLengthElement);
            }
            let Some((element, after)) = rest.split_at_checked(len) else {
                return Err(AppendageError::TruncatedElement {
                    element_len,
                    remaining: rest.len(),
                });
            };
            let tag = Tag::from_byte(element[0]).ok_or(AppendageError::UnknownTag(element[0]))?;
            check_tag(tag, element.len() - 1, allowed, seen)?;
            self.set(tag, &element[1..])
                .map_err(AppendageError::InvalidValue)?;
            seen = seen.with(tag);
            appendage = after;
        }
        Ok(())
    }

    /// Bytes the encoded appendage takes (without the Appendage Length field).
    pub fn encoded_len(&self) -> usize {
        self.tags().appendage_len()
    }

    /// True if no option is present.
    pub fn is_empty(&self) -> bool {
        self.tags().is_empty()
    }

    /// Writes the Appendage Length field and the TagValue elements in tag order;
    /// `tags` is [`Options::tags`] (computed once by the caller, which also needs it
    /// for the message's length).
    pub(crate) fn write_with_length(&self, tags: TagSet, w: &mut Writer<'_>) {
        debug_assert_eq!(tags, self.tags());
        w.u16(tags.appendage_len() as u16);
        let mut bits = tags.0;
        while bits != 0 {
            self.write_element(bits.trailing_zeros(), w);
            bits &= bits - 1;
        }
    }

    /// Options holding only a UserRefIdx (what outbound messages echo).
    pub const fn user_ref_idx_only(user_ref_idx: u8) -> Options {
        Options {
            user_ref_idx: Some(user_ref_idx),
            ..Options::NONE
        }
    }
}

fn check_tag(
    tag: Tag,
    value_len: usize,
    allowed: TagSet,
    seen: TagSet,
) -> Result<(), AppendageError> {
    if !allowed.contains(tag) {
        Err(AppendageError::TagNotAllowed(tag))
    } else if seen.contains(tag) {
        Err(AppendageError::DuplicateTag(tag))
    } else if value_len != tag.value_len() {
        Err(AppendageError::WrongValueLength {
            tag,
            len: value_len,
        })
    } else {
        Ok(())
    }
}
