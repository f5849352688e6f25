//! The macro that turns the opcode table (in `opcodes.rs`) into code.
//!
//! One table line
//!
//! ```text
//! /// One-line meaning.
//! 1 Open open(fd: Fd, path: Path, flags: OpenFlags, mode: Mode);
//! ```
//!
//! gives: the `Opcode::Open = 1` variant, its mnemonic, operand descriptors and summary; the
//! `Op::Open { fd, path, flags, mode }` variant; its decoder arm; `Hatch::open`; the
//! dispatch arm of `run`; and `Egg::open`, the builder method.

macro_rules! define_ops {
    ($(
        #[doc = $doc:literal]
        $number:literal $variant:ident $mnemonic:ident ($($field:ident : $kind:ident),*);
    )*) => {
        /// The opcodes this version knows: the registry. See docs/egg.md for each one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u64)]
        pub enum Opcode {
            $(#[doc = $doc] $variant = $number,)*
        }

        impl Opcode {
            /// Every opcode, in table (and number) order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$variant),*];

            /// The opcode's number in the program.
            pub const fn number(self) -> u64 {
                self as u64
            }

            /// The opcode with number `number`, if this version knows it.
            #[inline]
            pub const fn from_number(number: u64) -> Option<Opcode> {
                match number {
                    $($number => Some(Opcode::$variant),)*
                    _ => None,
                }
            }

            /// The mnemonic of the text form (also the `Hatch` and `Egg` method name).
            pub const fn mnemonic(self) -> &'static str {
                match self {
                    $(Opcode::$variant => stringify!($mnemonic),)*
                }
            }

            /// The opcode whose mnemonic is `mnemonic`.
            pub fn from_mnemonic(mnemonic: &str) -> Option<Opcode> {
                match mnemonic {
                    $(stringify!($mnemonic) => Some(Opcode::$variant),)*
                    _ => None,
                }
            }

            /// The one-line meaning.
            pub const fn summary(self) -> &'static str {
                match self {
                    $(Opcode::$variant => $doc.trim_ascii(),)*
                }
            }

            /// The operands, in program order.
            pub const fn operands(self) -> &'static [OperandInfo] {
                match self {
                    $(Opcode::$variant => &[$(OperandInfo {
                        name: stringify!($field),
                        kind: OperandKind::$kind,
                    }),*],)*
                }
            }
        }

        $(const _: () = assert!(Opcode::$variant.operands().len() <= MAX_OPERANDS);)*

        /// One decoded op, borrowing its strings from the program.
        ///
        /// Every value is one the validator accepts (in range, allowed flags, no NUL).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Op<'a> {
            $(
                #[doc = $doc]
                $variant {
                    $(
                        #[doc = concat!("Operand `", stringify!($field), "` (kind `",
                                        stringify!($kind), "`).")]
                        $field: field_ty!('a, $kind),
                    )*
                },
            )*
        }

        impl<'a> Op<'a> {
            /// The op's opcode.
            pub const fn opcode(&self) -> Opcode {
                match self {
                    $(Op::$variant { .. } => Opcode::$variant,)*
                }
            }

            /// The operand values, in program order, with their descriptors.
            pub fn operands(&self) -> Operands<'a> {
                let mut operands = Operands::new(self.opcode());
                match *self {
                    $(Op::$variant { $($field),* } => {
                        $(operands.push(OperandValue::from($field));)*
                    })*
                }
                operands
            }
        }

        /// Reads the operands of opcode `number` from `cursor` into a typed op and checks
        /// the rules that span operands (`check_op`, folded into each arm).
        #[inline]
        pub(crate) fn decode_operands<'a>(
            number: u64,
            cursor: &mut Cursor<'a>,
        ) -> Result<Op<'a>, Fault> {
            let op = match number {
                $($number => Op::$variant {
                    $($field: DecodeField::decode_field(cursor, OperandKind::$kind)?,)*
                },)*
                _ => return Err(Fault::unknown_opcode(number)),
            };
            match check_op(&op) {
                Ok(()) => Ok(op),
                Err((operand, rule)) => Err(Fault::rule(operand, rule)),
            }
        }

        /// What [`validate`](crate::validate) needs of one op: its operands read and
        /// checked as [`decode_operands`] does, the op itself dropped. Checking inside each
        /// arm, where the variant is known, lets the compiler keep the op out of memory;
        /// through `decode_operands` the op was built, copied and matched again (with one
        /// codegen unit and fat LTO: docs/egg.md, "Performance").
        #[inline(always)]
        pub(crate) fn validate_operands(number: u64, cursor: &mut Cursor<'_>) -> Result<(), Fault> {
            match number {
                $($number => {
                    let op = Op::$variant {
                        $($field: DecodeField::decode_field(cursor, OperandKind::$kind)?,)*
                    };
                    check_op(&op).map_err(|(operand, rule)| Fault::rule(operand, rule))
                },)*
                _ => Err(Fault::unknown_opcode(number)),
            }
        }

        /// The interpreter's other half: one method per opcode, called by [`run`](crate::run)
        /// in program order after the whole program validated.
        ///
        /// The process server implements it to build the child; tests implement it to record
        /// calls. A method's error stops the run at that op.
        pub trait Hatch {
            /// Why an op failed (the implementation's own error).
            type Error;
            $(
                #[doc = $doc]
                fn $mnemonic(&mut self $(, $field: field_ty!('_, $kind))*)
                    -> Result<(), Self::Error>;
            )*
        }

        /// Calls the `Hatch` method of `op`.
        pub fn dispatch<H: Hatch + ?Sized>(hatch: &mut H, op: Op<'_>)
            -> Result<(), H::Error>
        {
            match op {
                $(Op::$variant { $($field),* } => hatch.$mnemonic($($field),*),)*
            }
        }

        #[cfg(feature = "alloc")]
        impl $crate::Egg {
            $(
                #[doc = $doc]
                pub fn $mnemonic(mut self $(, $field: arg_ty!($kind))*) -> Self {
                    let out = self.start_op(Opcode::$variant);
                    $(encode_arg!(out, $kind, $field);)*
                    let _ = out; // unused by ops without operands
                    self
                }
            )*
        }
    };
}
