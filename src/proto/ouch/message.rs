//! The shape every OUCH message shares — type byte, fixed fields, then (for most
//! types) Appendage Length and the TagValue appendage — and the macro that defines a
//! message type from its field table.

use super::OuchError;
use super::appendage::{Options, Tag, TagSet};
use crate::proto::wire::{BufferTooSmall, Writer, room};

/// Whether a message type always carries its Appendage Length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppendageRule {
    /// Appendage Length always present (0 when there are no options).
    Required,
    /// "Appendage Length and Optional Appendage fields are optional": both absent
    /// when there are no options. Decoding accepts either form.
    Optional,
}

/// Checks a message's type and total length; returns its fixed fields (after the type
/// byte) and its appendage bytes.
pub(crate) fn split_message(
    msg: &[u8],
    message_type: u8,
    fields_len: usize,
    rule: AppendageRule,
) -> Result<(&[u8], &[u8]), OuchError> {
    let found = *msg.first().ok_or(OuchError::Empty)?;
    if found != message_type {
        return Err(OuchError::UnexpectedType {
            expected: message_type,
            found,
        });
    }
    let fixed = 1 + fields_len;
    if rule == AppendageRule::Optional && msg.len() == fixed {
        return Ok((&msg[1..], &[]));
    }
    let wrong_length = OuchError::WrongLength {
        message_type,
        len: msg.len(),
    };
    let Some(length_field) = msg.get(fixed..fixed + 2) else {
        return Err(wrong_length);
    };
    let appendage_len = usize::from(u16::from_be_bytes([length_field[0], length_field[1]]));
    if msg.len() != fixed + 2 + appendage_len {
        return Err(wrong_length);
    }
    Ok((&msg[1..fixed], &msg[fixed + 2..]))
}

/// Encoded size of a message with `fields_len` bytes of fixed fields and the options
/// `tags`.
#[inline]
pub(crate) fn encoded_len(fields_len: usize, rule: AppendageRule, tags: TagSet) -> usize {
    let fixed = 1 + fields_len;
    if rule == AppendageRule::Optional && tags.is_empty() {
        fixed
    } else {
        fixed + 2 + tags.appendage_len()
    }
}

/// Writes Appendage Length and the appendage (nothing for an empty optional one);
/// `tags` is `options.tags()`.
#[inline]
pub(crate) fn write_appendage(
    w: &mut Writer<'_>,
    rule: AppendageRule,
    options: &Options,
    tags: TagSet,
) {
    if rule == AppendageRule::Required || !tags.is_empty() {
        options.write_with_length(tags, w);
    }
}

/// The shape of one message type, for encoders that write its fields themselves.
pub(crate) trait Layout {
    /// The message type byte.
    const TYPE: u8;
    /// Bytes of the fixed fields after the type byte.
    const FIELDS_LEN: usize;
    /// Whether Appendage Length is always present.
    const RULE: AppendageRule;
    /// The appendage tags the message accepts.
    const ALLOWED_TAGS: TagSet;
}

/// Encodes a message of type `M` into the front of `out` from its fixed fields, which
/// `write_fields` writes in table order (`M::FIELDS_LEN` bytes), with no option but
/// the UserRefIdx `user_ref_idx` (none when 0) — what the session layer's answers
/// carry. The bytes are those of the message's `encode` with
/// [`Options::user_ref_idx_only`] (or [`Options::NONE`] for 0); no message value and no
/// `Options` are built.
///
/// NB: building each answer as an `Outbound` (with ≈ 150 bytes of `Options`) and
/// encoding that made a core event cost 801 instructions in the session layer; these
/// direct encoders brought it to 515 (callgrind, `Sessions::drain_events`, `bench rtt`).
#[inline(always)]
pub(crate) fn encode_echo<M: Layout>(
    user_ref_idx: u8,
    out: &mut [u8],
    write_fields: impl FnOnce(&mut Writer<'_>),
) -> Result<usize, BufferTooSmall> {
    const { assert!(M::ALLOWED_TAGS.contains(Tag::UserRefIdx)) };
    let tags = if user_ref_idx == 0 {
        TagSet::EMPTY
    } else {
        TagSet::EMPTY.with(Tag::UserRefIdx)
    };
    let len = encoded_len(M::FIELDS_LEN, M::RULE, tags);
    let buf = room(out, len)?;
    let (fixed, appendage) = buf.split_at_mut(1 + M::FIELDS_LEN);
    let mut w = Writer::new(fixed);
    w.u8(M::TYPE);
    write_fields(&mut w);
    if let Some((length, elements)) = appendage.split_first_chunk_mut::<2>() {
        *length = (elements.len() as u16).to_be_bytes();
        if let [element_len, tag, value] = elements {
            [*element_len, *tag, *value] = [2, Tag::UserRefIdx as u8, user_ref_idx];
        }
    }
    Ok(len)
}

/// Defines an OUCH message type from its field table.
macro_rules! ouch_message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident = $ty:literal, $rule:ident, [$($tag:ident),*] {
            $($(#[$fmeta:meta])* pub $field:ident: $fty:ty,)*
        }
    ) => {
        $(#[$meta])*
        ///
        /// `O` holds the options: decoded ([`Options`](crate::proto::ouch::Options), the
        /// default) or, as the session layer reads a received message, the checked
        /// appendage bytes ([`Appendage`](crate::proto::ouch::Appendage)).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<O = $crate::proto::ouch::Options> {
            $($(#[$fmeta])* pub $field: $fty,)*
            /// The options appendage (only the tags in `ALLOWED_TAGS` decode).
            pub options: O,
        }

        impl<'a> $name<$crate::proto::ouch::Appendage<'a>> {
            /// Decodes as `decode` does (same errors), keeping the appendage as checked bytes,
            /// handing the message to `wrap` (an enum variant).
            #[inline(always)]
            #[allow(dead_code, reason = "only inbound messages are viewed")]
            pub(crate) fn view_with<R>(
                msg: &'a [u8],
                wrap: impl FnOnce(Self) -> R,
            ) -> Result<R, $crate::proto::ouch::OuchError> {
                use $crate::proto::ouch::{Appendage, OuchError};
                let (fields, appendage) = $crate::proto::ouch::message::split_message(
                    msg, $ty, $name::FIELDS_LEN, $name::RULE,
                )?;
                let Some(fields) = fields.first_chunk::<{ $name::FIELDS_LEN }>() else {
                    return Err(OuchError::WrongLength { message_type: $ty, len: msg.len() });
                };
                #[allow(unused_mut, unused_variables)]
                let mut r = $crate::proto::wire::Reader::new(fields);
                $(let $field = <$fty as $crate::proto::wire::WireField>::read(&mut r)
                    .map_err(OuchError::InvalidValue)?;)*
                let options = Appendage::check(appendage, $name::ALLOWED_TAGS)
                    .map_err(OuchError::Appendage)?;
                Ok(wrap(Self { $($field,)* options }))
            }
        }

        impl<O: $crate::proto::ouch::OptionValues> $name<O> {
            /// The message with its options decoded.
            pub fn to_decoded(&self) -> $name {
                $name { $($field: self.$field,)* options: self.options.to_options() }
            }
        }

        impl $name {
            /// The message type byte.
            pub const TYPE: u8 = $ty;
            /// Bytes of the fixed fields after the type byte (Appendage Length excluded).
            pub const FIELDS_LEN: usize =
                0 $(+ <$fty as $crate::proto::wire::WireField>::LEN)*;
            /// The appendage tags this message accepts.
            pub const ALLOWED_TAGS: $crate::proto::ouch::TagSet =
                $crate::proto::ouch::TagSet::of(&[$($crate::proto::ouch::Tag::$tag),*]);
            const RULE: $crate::proto::ouch::message::AppendageRule =
                $crate::proto::ouch::message::AppendageRule::$rule;

            /// Decodes one whole message (type byte first) from a receive buffer.
            pub fn decode(msg: &[u8]) -> Result<Self, $crate::proto::ouch::OuchError> {
                Self::decode_with(msg, |m| m)
            }

            /// [`Self::decode`], handing the message to `wrap` (an enum variant).
            ///
            /// NB: so that `Ok(wrap(Self { .. }))` builds the wrapped message in the
            /// caller's result: decoding into a `Result<Self>` and re-wrapping it cost
            /// two ≈ 200-byte copies per message (callgrind, `Inbound::decode`).
            #[inline(always)]
            pub(crate) fn decode_with<R>(
                msg: &[u8],
                wrap: impl FnOnce(Self) -> R,
            ) -> Result<R, $crate::proto::ouch::OuchError> {
                use $crate::proto::ouch::{OuchError, Options};
                let (fields, appendage) = $crate::proto::ouch::message::split_message(
                    msg, Self::TYPE, Self::FIELDS_LEN, Self::RULE,
                )?;
                // A fixed-size view: the field reads below need no bounds checks.
                let Some(fields) = fields.first_chunk::<{ $name::FIELDS_LEN }>() else {
                    return Err(OuchError::WrongLength { message_type: Self::TYPE, len: msg.len() });
                };
                #[allow(unused_mut, unused_variables)]
                let mut r = $crate::proto::wire::Reader::new(fields);
                $(let $field = <$fty as $crate::proto::wire::WireField>::read(&mut r)
                    .map_err(OuchError::InvalidValue)?;)*
                if appendage.is_empty() {
                    // Built in the caller's result: no options decoded, none copied.
                    return Ok(wrap(Self { $($field,)* options: Options::NONE }));
                }
                let mut options = Options::NONE;
                options
                    .decode_into(appendage, Self::ALLOWED_TAGS)
                    .map_err(OuchError::Appendage)?;
                Ok(wrap(Self { $($field,)* options }))
            }

            /// Bytes the encoded message takes.
            pub fn encoded_len(&self) -> usize {
                $crate::proto::ouch::message::encoded_len(
                    Self::FIELDS_LEN, Self::RULE, self.options.tags(),
                )
            }

            /// Encodes the message into the front of `out`; returns the bytes written.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, $crate::proto::wire::BufferTooSmall> {
                self.encode_tagged(self.options.tags(), out)
            }

            /// [`Self::encode`] for a caller that knows the options' tags (`tags` must
            /// be `self.options.tags()`): the encoder that built the options skips
            /// working them out again from two dozen `Option`s.
            pub(crate) fn encode_tagged(
                &self,
                tags: $crate::proto::ouch::TagSet,
                out: &mut [u8],
            ) -> Result<usize, $crate::proto::wire::BufferTooSmall> {
                debug_assert_eq!(tags, self.options.tags());
                let len = $crate::proto::ouch::message::encoded_len(Self::FIELDS_LEN, Self::RULE, tags);
                let buf = $crate::proto::wire::room(out, len)?;
                // The fixed part first, through a view of known size: its field writes
                // need no bounds checks. `len` always covers it.
                let (fixed, appendage) = buf.split_at_mut(1 + Self::FIELDS_LEN);
                let mut w = $crate::proto::wire::Writer::new(fixed);
                w.u8(Self::TYPE);
                $($crate::proto::wire::WireField::write(&self.$field, &mut w);)*
                let mut w = $crate::proto::wire::Writer::new(appendage);
                $crate::proto::ouch::message::write_appendage(&mut w, Self::RULE, &self.options, tags);
                Ok(len)
            }
        }

        impl $crate::proto::ouch::message::Layout for $name {
            const TYPE: u8 = $ty;
            const FIELDS_LEN: usize = Self::FIELDS_LEN;
            const RULE: $crate::proto::ouch::message::AppendageRule = Self::RULE;
            const ALLOWED_TAGS: $crate::proto::ouch::TagSet = Self::ALLOWED_TAGS;
        }
    };
}

pub(crate) use ouch_message;
