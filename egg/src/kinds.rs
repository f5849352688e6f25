//! Operand kinds: what an operand may hold, and the value types the decoder hands out.
//!
//! Every operand of every op has one [`OperandKind`]. The kind fixes the shape on the wire
//! (a number, a string, or a list of ids), the largest number allowed, the extra rules a
//! value must follow, and how the text form writes it. The table below is the only place
//! those facts live.

use core::fmt;

use crate::error::Constraint;
use crate::leb128;
use crate::values::{OpenFlags, Resource, Rights, SignalSet};

/// Most supplementary groups one `setgroups` may list (Linux `NGROUPS_MAX`).
pub const MAX_GROUPS: u64 = 65_536;

/// How an operand is laid out in the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One ULEB128 number, at most `max`.
    Number {
        /// Largest value allowed; anything above is [`ErrorKind::NumberTooLarge`].
        ///
        /// [`ErrorKind::NumberTooLarge`]: crate::ErrorKind::NumberTooLarge
        max: u64,
    },
    /// A ULEB128 length, then that many bytes, none of them NUL.
    String,
    /// A ULEB128 count (at most [`MAX_GROUPS`]), then that many ids, each at most `u32::MAX`.
    IdList,
}

macro_rules! define_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident $name:literal $shape:expr;)*) => {
        /// The kind of an operand. See the module docs and docs/egg.md, "Operand kinds".
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum OperandKind {
            $($(#[doc = $doc])* $kind,)*
        }

        impl OperandKind {
            /// Every kind, in table order.
            pub const ALL: &'static [OperandKind] = &[$(OperandKind::$kind),*];

            /// The kind's name as docs/egg.md writes it.
            pub const fn name(self) -> &'static str {
                match self {
                    $(OperandKind::$kind => $name,)*
                }
            }

            /// The one-line meaning of the kind.
            pub const fn summary(self) -> &'static str {
                match self {
                    $(OperandKind::$kind => concat!($($doc),*).trim_ascii(),)*
                }
            }

            /// How the kind is laid out in the program.
            pub const fn shape(self) -> Shape {
                match self {
                    $(OperandKind::$kind => $shape,)*
                }
            }
        }
    };
}

const U32: u64 = u32::MAX as u64;
const I32: u64 = i32::MAX as u64;

define_kinds! {
    /// A file descriptor number in the child.
    Fd "fd" Shape::Number { max: I32 };
    /// A process group id; 0 means the child's own pid.
    Pgid "pgid" Shape::Number { max: I32 };
    /// A slot of the child's CNode.
    Slot "slot" Shape::Number { max: U32 };
    /// Which of the caps sent with the hatch request, 0 being the first.
    CapIndex "cap_index" Shape::Number { max: U32 };
    /// A user or group id.
    Id "id" Shape::Number { max: U32 };
    /// Permission bits of a created file, 0o7777 at most.
    Mode "mode" Shape::Number { max: 0o7777 };
    /// File mode creation mask, 0o777 at most.
    Umask "umask" Shape::Number { max: 0o777 };
    /// An access mode (O_RDONLY=0, O_WRONLY=1, O_RDWR=2; 3 is reserved) or-ed with named bits only.
    OpenFlags "open_flags" Shape::Number { max: U32 };
    /// Capability rights or-ed: READ=1, WRITE=2, GRANT=4, GRANT_REPLY=8.
    Rights "rights" Shape::Number { max: 15 };
    /// A badge minted into the cap; 0 means no badge (a plain copy).
    Badge "badge" Shape::Number { max: u64::MAX };
    /// A set of signals 1..=64: signal n is bit n-1.
    SignalSet "signal_set" Shape::Number { max: u64::MAX };
    /// A resource, RLIMIT_CPU=0 .. RLIMIT_RTTIME=15 (Linux numbers).
    Resource "resource" Shape::Number { max: 15 };
    /// A resource limit; 2^64-1 is RLIM_INFINITY.
    Limit "limit" Shape::Number { max: u64::MAX };
    /// A scheduling priority (higher runs first).
    Priority "priority" Shape::Number { max: 255 };
    /// A set of CPUs 0..=63: CPU n is bit n; not empty.
    CpuMask "cpu_mask" Shape::Number { max: u64::MAX };
    /// A path, not empty.
    Path "path" Shape::String;
    /// A process name, any bytes but NUL.
    Name "name" Shape::String;
    /// An environment variable name, not empty, without '='.
    EnvName "env_name" Shape::String;
    /// An environment variable value, any bytes but NUL.
    EnvValue "env_value" Shape::String;
    /// A count (65536 at most), then that many ids, each below 2^32.
    IdList "id_list" Shape::IdList;
}

impl OperandKind {
    /// Largest number the kind allows (`u64::MAX` for strings and lists, whose lengths the
    /// program's size bounds).
    #[inline(always)]
    pub(crate) const fn max(self) -> u64 {
        match self.shape() {
            Shape::Number { max } => max,
            Shape::String | Shape::IdList => u64::MAX,
        }
    }

    /// Checks a number that is already within the kind's `max`.
    #[inline(always)]
    pub(crate) fn check_number(self, value: u64) -> Result<(), Constraint> {
        match self {
            OperandKind::OpenFlags => {
                if value & u64::from(OpenFlags::ACCESS_MODE) == u64::from(OpenFlags::ACCESS_MODE) {
                    Err(Constraint::ReservedAccessMode)
                } else if value & !u64::from(OpenFlags::DEFINED) != 0 {
                    Err(Constraint::UndefinedOpenFlags)
                } else {
                    Ok(())
                }
            }
            OperandKind::CpuMask if value == 0 => Err(Constraint::EmptyCpuMask),
            _ => Ok(()),
        }
    }

    /// Checks a string that already has no NUL byte.
    #[inline(always)]
    pub(crate) fn check_string(self, bytes: &[u8]) -> Result<(), Constraint> {
        match self {
            OperandKind::Path | OperandKind::EnvName if bytes.is_empty() => {
                Err(Constraint::EmptyString)
            }
            OperandKind::EnvName if bytes.contains(&b'=') => Err(Constraint::EqualsInName),
            _ => Ok(()),
        }
    }
}

/// A byte string from a program: borrowed, never holding a NUL byte.
///
/// Not necessarily UTF-8: paths and environment values are bytes, as in POSIX.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Str<'a>(&'a [u8]);

impl<'a> Str<'a> {
    /// `bytes` as a `Str`, or `None` if it holds a NUL byte.
    pub fn new(bytes: &'a [u8]) -> Option<Str<'a>> {
        if bytes.contains(&0) {
            None
        } else {
            Some(Str(bytes))
        }
    }

    /// Wraps bytes the decoder has checked for NUL.
    pub(crate) fn from_checked(bytes: &'a [u8]) -> Str<'a> {
        Str(bytes)
    }

    /// The bytes.
    pub fn as_bytes(self) -> &'a [u8] {
        self.0
    }

    /// The bytes as UTF-8 text, if they are.
    pub fn to_str(self) -> Option<&'a str> {
        core::str::from_utf8(self.0).ok()
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }
}

impl AsRef<[u8]> for Str<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

impl fmt::Debug for Str<'_> {
    /// The text form: a quoted string with escapes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A list of ids (the supplementary groups of `setgroups`), decoded lazily.
///
/// Invariant: `bytes` is exactly `len` shortest-form numbers, each at most `u32::MAX`
/// (the decoder checked them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct IdList<'a> {
    len: u32,
    bytes: &'a [u8],
}

impl<'a> IdList<'a> {
    /// The empty list.
    pub const EMPTY: IdList<'static> = IdList { len: 0, bytes: &[] };

    /// Wraps ids the decoder has checked.
    pub(crate) fn from_checked(len: u32, bytes: &'a [u8]) -> IdList<'a> {
        IdList { len, bytes }
    }

    /// How many ids.
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Whether the list is empty.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// The encoded ids (without the count).
    pub fn encoded(self) -> &'a [u8] {
        self.bytes
    }

    /// The ids, in program order.
    pub fn iter(self) -> IdListIter<'a> {
        IdListIter {
            bytes: self.bytes,
            pos: 0,
        }
    }
}

impl<'a> IntoIterator for IdList<'a> {
    type Item = u32;
    type IntoIter = IdListIter<'a>;
    fn into_iter(self) -> IdListIter<'a> {
        self.iter()
    }
}

/// Iterator over the ids of an [`IdList`].
#[derive(Clone, Debug)]
pub struct IdListIter<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Iterator for IdListIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        // The decoder checked every id, so this stops only at the end.
        let (value, len) = leb128::read(self.bytes, self.pos).ok()?;
        self.pos += len;
        u32::try_from(value).ok()
    }
}

/// One operand value, whatever its kind: what [`Op::operands`](crate::Op::operands) yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandValue<'a> {
    /// A number operand (fds, ids, flags, masks...), widened to `u64`.
    Number(u64),
    /// A string operand.
    String(Str<'a>),
    /// An id list operand.
    IdList(IdList<'a>),
}

macro_rules! number_operand {
    ($($ty:ty),*) => {$(
        impl From<$ty> for OperandValue<'_> {
            fn from(value: $ty) -> Self {
                OperandValue::Number(u64::from(value))
            }
        }
    )*};
}
number_operand!(u8, u32, u64, OpenFlags, Rights, SignalSet, Resource);

impl<'a> From<Str<'a>> for OperandValue<'a> {
    fn from(value: Str<'a>) -> Self {
        OperandValue::String(value)
    }
}

impl<'a> From<IdList<'a>> for OperandValue<'a> {
    fn from(value: IdList<'a>) -> Self {
        OperandValue::IdList(value)
    }
}

/// The Rust type of an [`Op`](crate::Op) field of each kind (the compiler checks it
/// against the `DecodeField` impls in decode.rs).
macro_rules! field_ty {
    ($lt:lifetime, Fd) => { u32 };
    ($lt:lifetime, Pgid) => { u32 };
    ($lt:lifetime, Slot) => { u32 };
    ($lt:lifetime, CapIndex) => { u32 };
    ($lt:lifetime, Id) => { u32 };
    ($lt:lifetime, Mode) => { u32 };
    ($lt:lifetime, Umask) => { u32 };
    ($lt:lifetime, OpenFlags) => { $crate::OpenFlags };
    ($lt:lifetime, Rights) => { $crate::Rights };
    ($lt:lifetime, Badge) => { u64 };
    ($lt:lifetime, SignalSet) => { $crate::SignalSet };
    ($lt:lifetime, Resource) => { $crate::Resource };
    ($lt:lifetime, Limit) => { u64 };
    ($lt:lifetime, Priority) => { u8 };
    ($lt:lifetime, CpuMask) => { u64 };
    ($lt:lifetime, Path) => { $crate::Str<$lt> };
    ($lt:lifetime, Name) => { $crate::Str<$lt> };
    ($lt:lifetime, EnvName) => { $crate::Str<$lt> };
    ($lt:lifetime, EnvValue) => { $crate::Str<$lt> };
    ($lt:lifetime, IdList) => { $crate::IdList<$lt> };
}

/// The type a builder method takes for each kind: strings as any bytes, id lists as a
/// slice, numbers as their field type.
#[cfg(feature = "alloc")]
macro_rules! arg_ty {
    (Path) => { impl AsRef<[u8]> };
    (Name) => { impl AsRef<[u8]> };
    (EnvName) => { impl AsRef<[u8]> };
    (EnvValue) => { impl AsRef<[u8]> };
    (IdList) => { &[u32] };
    ($kind:ident) => { field_ty!('static, $kind) };
}

/// Appends a builder argument of each kind to the program.
#[cfg(feature = "alloc")]
macro_rules! encode_arg {
    ($out:expr, Path, $value:expr) => {
        $crate::builder::write_string($out, $value.as_ref())
    };
    ($out:expr, Name, $value:expr) => {
        $crate::builder::write_string($out, $value.as_ref())
    };
    ($out:expr, EnvName, $value:expr) => {
        $crate::builder::write_string($out, $value.as_ref())
    };
    ($out:expr, EnvValue, $value:expr) => {
        $crate::builder::write_string($out, $value.as_ref())
    };
    ($out:expr, IdList, $value:expr) => {
        $crate::builder::write_ids($out, $value)
    };
    ($out:expr, $kind:ident, $value:expr) => {
        $crate::leb128::write($out, u64::from($value))
    };
}
