//! The rows of `cargo xtask bench hatch` and the table they make: in the terminal (its last
//! line the headline), as Markdown and as CSV.
//!
//! Both sides of the benchmark report through the serial port in one line format, which
//! this module parses (docs/benchmarks.md):
//!
//! ```text
//! bench-row: method=egg ops=10 runs=200 instructions=16000 kernel_entries=4 ipc_messages=2 bytes_copied=312 pages_cleared=5
//! bench-row: method=posix_spawn ops=10 runs=201 instructions=322275 kernel_entries=148
//! bench-error: method=egg ops=10 run=17: <why>
//! ```
//!
//! `method`, `runs` and `instructions` are required; `ops` is absent for the calibration
//! figures (getppid, pipe ping-pong); each counter is absent when that side cannot count
//! it (Linux counts kernel entries only). A `bench-error:` line means a hatch failed or a
//! child's exit status was wrong: the report is refused.

use std::fmt;

/// Prefix of a figure line.
pub const ROW_PREFIX: &str = "bench-row:";
/// Prefix of a failed-run line.
pub const ERROR_PREFIX: &str = "bench-error:";

/// Where a figure was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum System {
    /// Hatchery (the hatch benchmark, under procsrv).
    Hatchery,
    /// Linux (a Debian kernel booted in the same QEMU).
    Linux,
}

impl System {
    /// The system's name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hatchery => "Hatchery",
            Self::Linux => "Linux",
        }
    }
}

/// What a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// The whole description in one Call (what procsrv serves).
    Egg,
    /// One message per attribute: create, one call per attribute, start.
    Chatty,
    /// One message holding a fixed, versioned struct plus a file-action array.
    Struct,
    /// Linux `posix_spawn` + `waitpid`.
    PosixSpawn,
    /// Linux `vfork` + `execve` + `waitpid`.
    VforkExecve,
    /// Linux `fork` + `execve` + `waitpid`.
    ForkExecve,
    /// Linux `getppid` (calibration: one system call).
    Getppid,
    /// Linux pipe ping-pong round trip between two processes (calibration).
    PipePingPong,
}

impl Method {
    /// Every method, in table order.
    pub const ALL: [Method; 8] = [
        Self::Egg,
        Self::Chatty,
        Self::Struct,
        Self::PosixSpawn,
        Self::VforkExecve,
        Self::ForkExecve,
        Self::Getppid,
        Self::PipePingPong,
    ];

    /// The name in `bench-row:` lines, tables and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Self::Egg => "egg",
            Self::Chatty => "chatty",
            Self::Struct => "struct",
            Self::PosixSpawn => "posix_spawn",
            Self::VforkExecve => "vfork+execve",
            Self::ForkExecve => "fork+execve",
            Self::Getppid => "getppid",
            Self::PipePingPong => "pipe-ping-pong",
        }
    }

    /// The method named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.name() == name)
    }

    /// Where this method is measured.
    pub fn system(self) -> System {
        match self {
            Self::Egg | Self::Chatty | Self::Struct => System::Hatchery,
            _ => System::Linux,
        }
    }

    /// Whether a row of this method is a hatch (a child started, exited and waited for),
    /// rather than a calibration figure.
    pub fn is_hatch(self) -> bool {
        !matches!(self, Self::Getppid | Self::PipePingPong)
    }
}

/// One figure: the median of `runs` timed runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// What was measured.
    pub method: Method,
    /// Ops in the description (egg ops, attributes; for Linux, file actions, where 10
    /// means ten file actions plus setsid). `None` for calibration figures.
    pub ops: Option<u32>,
    /// Timed runs the median was taken over.
    pub runs: u32,
    /// Median executed instructions per run, the child's exit and the wait included.
    pub instructions: u64,
    /// Kernel entries per run, when counted.
    pub kernel_entries: Option<u64>,
    /// IPC messages per run, when counted.
    pub ipc_messages: Option<u64>,
    /// Bytes copied per run, when counted.
    pub bytes_copied: Option<u64>,
    /// Pages cleared per run, when counted.
    pub pages_cleared: Option<u64>,
}

impl Row {
    /// A row with only an instruction count.
    #[cfg(test)]
    pub fn instructions(method: Method, ops: Option<u32>, runs: u32, instructions: u64) -> Self {
        Self {
            method,
            ops,
            runs,
            instructions,
            kernel_entries: None,
            ipc_messages: None,
            bytes_copied: None,
            pages_cleared: None,
        }
    }

    /// What the row measures, in words: `egg, 10 ops`, `Linux posix_spawn, 10 file
    /// actions + setsid`, `Linux getppid`.
    pub fn label(&self) -> String {
        let system = match self.method.system() {
            System::Hatchery => String::new(),
            System::Linux => "Linux ".into(),
        };
        let what = match (self.method.system(), self.ops) {
            (_, None) => String::new(),
            (System::Hatchery, Some(1)) => ", 1 op".into(),
            (System::Hatchery, Some(ops)) => format!(", {ops} ops"),
            (System::Linux, Some(0)) => ", no file actions".into(),
            (System::Linux, Some(ops)) => format!(", {ops} file actions + setsid"),
        };
        format!("{system}{}{what}", self.method.name())
    }

    fn sort_key(&self) -> (System, bool, Method, Option<u32>) {
        let calibration = !self.method.is_hatch();
        (self.method.system(), calibration, self.method, self.ops)
    }
}

/// Why a `bench-row:` line could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowError {
    /// A field is not `key=value`.
    NotKeyValue(String),
    /// A key this format does not have.
    UnknownKey(String),
    /// A key given twice.
    RepeatedKey(String),
    /// A number field that is not a decimal number.
    BadNumber(String, String),
    /// An unknown method name.
    UnknownMethod(String),
    /// A required key is missing.
    Missing(&'static str),
    /// A hatch row without `ops`, or a calibration row with it.
    OpsMismatch(Method),
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotKeyValue(field) => write!(f, "`{field}` is not key=value"),
            Self::UnknownKey(key) => write!(f, "unknown key `{key}`"),
            Self::RepeatedKey(key) => write!(f, "`{key}` given twice"),
            Self::BadNumber(key, value) => write!(f, "{key}=`{value}` is not a number"),
            Self::UnknownMethod(name) => write!(f, "unknown method `{name}`"),
            Self::Missing(key) => write!(f, "`{key}` is missing"),
            Self::OpsMismatch(method) if method.is_hatch() => {
                write!(f, "a {} row needs `ops`", method.name())
            }
            Self::OpsMismatch(method) => write!(f, "a {} row has no `ops`", method.name()),
        }
    }
}

/// Parses the fields of a `bench-row:` line (after the prefix).
pub fn parse_row(fields: &str) -> Result<Row, RowError> {
    const KEYS: [&str; 8] = [
        "method",
        "ops",
        "runs",
        "instructions",
        "kernel_entries",
        "ipc_messages",
        "bytes_copied",
        "pages_cleared",
    ];
    let mut values: [Option<&str>; KEYS.len()] = [None; KEYS.len()];
    for field in fields.split_whitespace() {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| RowError::NotKeyValue(field.into()))?;
        let index = KEYS
            .iter()
            .position(|&known| known == key)
            .ok_or_else(|| RowError::UnknownKey(key.into()))?;
        if values[index].replace(value).is_some() {
            return Err(RowError::RepeatedKey(key.into()));
        }
    }
    let number = |index: usize| -> Result<Option<u64>, RowError> {
        values[index]
            .map(|value| {
                value
                    .parse::<u64>()
                    .map_err(|_| RowError::BadNumber(KEYS[index].into(), value.into()))
            })
            .transpose()
    };
    let small = |index: usize| -> Result<Option<u32>, RowError> {
        number(index)?
            .map(|value| {
                u32::try_from(value)
                    .map_err(|_| RowError::BadNumber(KEYS[index].into(), value.to_string()))
            })
            .transpose()
    };
    let name = values[0].ok_or(RowError::Missing("method"))?;
    let method = Method::from_name(name).ok_or_else(|| RowError::UnknownMethod(name.into()))?;
    let ops = small(1)?;
    if ops.is_some() != method.is_hatch() {
        return Err(RowError::OpsMismatch(method));
    }
    Ok(Row {
        method,
        ops,
        runs: small(2)?.ok_or(RowError::Missing("runs"))?,
        instructions: number(3)?.ok_or(RowError::Missing("instructions"))?,
        kernel_entries: number(4)?,
        ipc_messages: number(5)?,
        bytes_copied: number(6)?,
        pages_cleared: number(7)?,
    })
}

/// The fewest timed runs a median may be taken over.
pub const MIN_RUNS: u32 = 200;

/// Reads every row of a serial log.
///
/// # Errors
/// The first `bench-error:` line (a failed hatch or a wrong exit status: the benchmark
/// refuses to report), a malformed `bench-row:` line, or a row whose median is over fewer
/// than [`MIN_RUNS`] runs.
pub fn rows_from_log(log: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for line in log.lines().map(|line| line.trim_end_matches('\r')) {
        if let Some(why) = line.strip_prefix(ERROR_PREFIX) {
            return Err(format!("a run failed, no figures reported:{why}"));
        }
        if let Some(fields) = line.strip_prefix(ROW_PREFIX) {
            let row = parse_row(fields).map_err(|e| format!("bad line `{line}`: {e}"))?;
            if row.runs < MIN_RUNS {
                return Err(format!(
                    "`{line}`: a median of {} runs, fewer than {MIN_RUNS}",
                    row.runs
                ));
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The table's columns.
const COLUMNS: [&str; 9] = [
    "system",
    "method",
    "ops",
    "instructions",
    "kernel entries",
    "IPC messages",
    "bytes copied",
    "pages cleared",
    "runs",
];

/// The rows of one benchmark run, in table order: Hatchery's rows (by method, then ops),
/// then Linux's hatches, then its calibration figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    rows: Vec<Row>,
}

impl Report {
    /// A report of `rows`, put in table order.
    pub fn new(mut rows: Vec<Row>) -> Self {
        rows.sort_by_key(Row::sort_key);
        Self { rows }
    }

    /// The rows, in table order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The row of `method` with `ops` ops, if measured.
    pub fn find(&self, method: Method, ops: Option<u32>) -> Option<&Row> {
        self.rows
            .iter()
            .find(|row| row.method == method && row.ops == ops)
    }

    /// Each row as table cells (`-` for what was not counted).
    fn cells(&self) -> Vec<[String; COLUMNS.len()]> {
        let optional = |value: Option<u64>| value.map_or_else(|| "-".into(), thousands);
        self.rows
            .iter()
            .map(|row| {
                [
                    row.method.system().name().into(),
                    row.method.name().into(),
                    row.ops.map_or_else(|| "-".into(), |ops| ops.to_string()),
                    thousands(row.instructions),
                    optional(row.kernel_entries),
                    optional(row.ipc_messages),
                    optional(row.bytes_copied),
                    optional(row.pages_cleared),
                    row.runs.to_string(),
                ]
            })
            .collect()
    }

    /// The headline: `bench: hatch, 10-op egg: N instructions (chatty M, struct K)` when
    /// the 10-op egg was measured; otherwise what was measured instead.
    pub fn headline(&self) -> String {
        let figure = |method| {
            self.find(method, Some(10))
                .map_or_else(|| "not measured".into(), |row| thousands(row.instructions))
        };
        if let Some(egg) = self.find(Method::Egg, Some(10)) {
            return format!(
                "bench: hatch, 10-op egg: {} instructions (chatty {}, struct {})",
                thousands(egg.instructions),
                figure(Method::Chatty),
                figure(Method::Struct)
            );
        }
        match self.find(Method::PosixSpawn, Some(10)) {
            Some(linux) => format!(
                "bench: hatch: no Hatchery rows in this run; {}: {} instructions",
                linux.label(),
                thousands(linux.instructions)
            ),
            None => "bench: hatch: no rows".into(),
        }
    }

    /// The table for the terminal, columns aligned, the headline as its last line.
    pub fn terminal(&self) -> String {
        let cells = self.cells();
        let mut widths = COLUMNS.map(str::len);
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let line = |row: &[String]| -> String {
            let padded: Vec<String> = row
                .iter()
                .zip(widths)
                .enumerate()
                // Text columns to the left, numbers to the right.
                .map(|(column, (cell, width))| match column {
                    0 | 1 => format!("{cell:<width$}"),
                    _ => format!("{cell:>width$}"),
                })
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let mut text = line(&COLUMNS.map(String::from));
        for row in &cells {
            text += &line(row);
        }
        text + &self.headline() + "\n"
    }

    /// The table in Markdown.
    pub fn markdown(&self) -> String {
        let mut text = format!("| {} |\n", COLUMNS.join(" | "));
        text += "|---|---|";
        text += &"---:|".repeat(COLUMNS.len() - 2);
        text += "\n";
        for row in self.cells() {
            text += &format!("| {} |\n", row.join(" | "));
        }
        text
    }

    /// The table in CSV: plain numbers, empty cells for what was not counted.
    pub fn csv(&self) -> String {
        let mut text = COLUMNS.map(|c| c.replace(' ', "_")).join(",") + "\n";
        let optional = |value: Option<u64>| value.map_or_else(String::new, |v| v.to_string());
        for row in &self.rows {
            let fields = [
                row.method.system().name().to_string(),
                row.method.name().into(),
                row.ops.map_or_else(String::new, |ops| ops.to_string()),
                row.instructions.to_string(),
                optional(row.kernel_entries),
                optional(row.ipc_messages),
                optional(row.bytes_copied),
                optional(row.pages_cleared),
                row.runs.to_string(),
            ];
            text += &(fields.join(",") + "\n");
        }
        text
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hatchery(method: Method, ops: u32, instructions: u64) -> Row {
        Row {
            kernel_entries: Some(2 + u64::from(ops)),
            ipc_messages: Some(2),
            bytes_copied: Some(100 + 8 * u64::from(ops)),
            pages_cleared: Some(5),
            ..Row::instructions(method, Some(ops), 200, instructions)
        }
    }

    fn sample() -> Report {
        Report::new(vec![
            Row::instructions(Method::Getppid, None, 2001, 340),
            Row::instructions(Method::PosixSpawn, Some(10), 201, 321_274),
            hatchery(Method::Chatty, 10, 40_000),
            hatchery(Method::Egg, 10, 16_500),
            hatchery(Method::Egg, 0, 12_000),
            hatchery(Method::Struct, 10, 18_000),
        ])
    }

    #[test]
    fn method_names_round_trip_and_are_distinct() {
        for method in Method::ALL {
            assert_eq!(Method::from_name(method.name()), Some(method));
        }
        assert_eq!(Method::from_name("spawn"), None);
    }

    #[test]
    fn parse_row_reads_a_full_hatchery_row() {
        let row = parse_row(
            " method=egg ops=10 runs=200 instructions=16000 kernel_entries=4 ipc_messages=2 bytes_copied=312 pages_cleared=5",
        )
        .unwrap();
        assert_eq!(
            row,
            Row {
                kernel_entries: Some(4),
                ipc_messages: Some(2),
                bytes_copied: Some(312),
                pages_cleared: Some(5),
                ..Row::instructions(Method::Egg, Some(10), 200, 16000)
            }
        );
    }

    #[test]
    fn parse_row_reads_linux_rows_without_counters() {
        let row = parse_row("method=vfork+execve ops=0 runs=201 instructions=215428").unwrap();
        assert_eq!(
            row,
            Row::instructions(Method::VforkExecve, Some(0), 201, 215_428)
        );
        let row = parse_row("method=getppid runs=2001 instructions=340").unwrap();
        assert_eq!(row, Row::instructions(Method::Getppid, None, 2001, 340));
    }

    #[test]
    fn parse_row_names_what_is_wrong() {
        let cases = [
            ("method=egg ops=1 runs=2", RowError::Missing("instructions")),
            ("ops=1 runs=2 instructions=3", RowError::Missing("method")),
            (
                "method=eggs ops=1 runs=2 instructions=3",
                RowError::UnknownMethod("eggs".into()),
            ),
            (
                "method=egg ops=1 runs=2 instructions=3x",
                RowError::BadNumber("instructions".into(), "3x".into()),
            ),
            (
                "method=egg ops=4294967296 runs=2 instructions=3",
                RowError::BadNumber("ops".into(), "4294967296".into()),
            ),
            (
                "method=egg ops=1 ops=2 runs=2 instructions=3",
                RowError::RepeatedKey("ops".into()),
            ),
            (
                "method=egg ops=1 runs=2 instructions=3 cycles=4",
                RowError::UnknownKey("cycles".into()),
            ),
            (
                "method=egg ops=1 runs=2 instructions",
                RowError::NotKeyValue("instructions".into()),
            ),
            (
                "method=egg runs=2 instructions=3",
                RowError::OpsMismatch(Method::Egg),
            ),
            (
                "method=getppid ops=0 runs=2 instructions=3",
                RowError::OpsMismatch(Method::Getppid),
            ),
        ];
        for (line, error) in cases {
            assert_eq!(parse_row(line), Err(error), "{line}");
        }
    }

    #[test]
    fn rows_from_log_skips_other_lines_and_refuses_after_an_error() {
        let log =
            "[    0.5] kernel noise\r\nbench-row: method=getppid runs=200 instructions=340\r\nok\n";
        assert_eq!(
            rows_from_log(log).unwrap(),
            [Row::instructions(Method::Getppid, None, 200, 340)]
        );
        let failed = format!(
            "{log}bench-error: method=egg ops=10 run=17: the child exited with status 3, not 0\n"
        );
        let error = rows_from_log(&failed).unwrap_err();
        assert!(error.contains("method=egg ops=10 run=17: the child exited with status 3"));
        let malformed = "bench-row: method=egg runs=300 instructions=340\n";
        assert!(rows_from_log(malformed)
            .unwrap_err()
            .contains("needs `ops`"));
    }

    #[test]
    fn rows_from_log_refuses_a_median_of_fewer_than_200_runs() {
        let log = "bench-row: method=egg ops=10 runs=199 instructions=16000\n";
        let error = rows_from_log(log).unwrap_err();
        assert!(
            error.contains("a median of 199 runs, fewer than 200"),
            "{error}"
        );
    }

    #[test]
    fn report_orders_hatchery_then_linux_hatches_then_calibration() {
        let order: Vec<String> = sample().rows().iter().map(Row::label).collect();
        assert_eq!(
            order,
            [
                "egg, 0 ops",
                "egg, 10 ops",
                "chatty, 10 ops",
                "struct, 10 ops",
                "Linux posix_spawn, 10 file actions + setsid",
                "Linux getppid",
            ]
        );
    }

    #[test]
    fn headline_names_egg_chatty_and_struct_at_ten_ops() {
        assert_eq!(
            sample().headline(),
            "bench: hatch, 10-op egg: 16,500 instructions (chatty 40,000, struct 18,000)"
        );
        let egg_only = Report::new(vec![hatchery(Method::Egg, 10, 9_000)]);
        assert_eq!(
            egg_only.headline(),
            "bench: hatch, 10-op egg: 9,000 instructions (chatty not measured, struct not measured)"
        );
    }

    #[test]
    fn headline_without_hatchery_rows_says_so_and_quotes_linux() {
        let linux = Report::new(vec![Row::instructions(
            Method::PosixSpawn,
            Some(10),
            201,
            321_274,
        )]);
        assert_eq!(
            linux.headline(),
            "bench: hatch: no Hatchery rows in this run; Linux posix_spawn, 10 file actions + setsid: 321,274 instructions"
        );
        assert_eq!(Report::default().headline(), "bench: hatch: no rows");
    }

    #[test]
    fn terminal_table_aligns_columns_and_ends_with_the_headline() {
        let text = sample().terminal();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 6 + 1);
        assert!(lines[0].starts_with("system    method"));
        assert_eq!(lines.last().copied(), Some(sample().headline().as_str()));
        // The instructions column ends at the same place on every row.
        let end = lines[0].find("instructions").unwrap() + "instructions".len();
        for line in &lines[1..7] {
            assert!(
                line[..end].ends_with(|c: char| c.is_ascii_digit()),
                "{line}"
            );
            assert_eq!(line.as_bytes()[end], b' ', "{line}");
        }
        assert!(lines[1].starts_with("Hatchery  egg"));
        assert!(lines[6].contains("getppid") && lines[6].contains("     -  "));
    }

    #[test]
    fn markdown_has_a_header_a_rule_and_one_line_per_row() {
        let text = sample().markdown();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + 6);
        assert_eq!(lines[0], "| system | method | ops | instructions | kernel entries | IPC messages | bytes copied | pages cleared | runs |");
        assert_eq!(lines[1], "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        assert_eq!(
            lines[2],
            "| Hatchery | egg | 0 | 12,000 | 2 | 2 | 100 | 5 | 200 |"
        );
        assert_eq!(
            lines[7],
            "| Linux | getppid | - | 340 | - | - | - | - | 2001 |"
        );
    }

    #[test]
    fn csv_has_plain_numbers_and_empty_cells_for_what_was_not_counted() {
        let text = sample().csv();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "system,method,ops,instructions,kernel_entries,IPC_messages,bytes_copied,pages_cleared,runs");
        assert_eq!(lines[2], "Hatchery,egg,10,16500,12,2,180,5,200");
        assert_eq!(lines[5], "Linux,posix_spawn,10,321274,,,,,201");
        assert_eq!(lines[6], "Linux,getppid,,340,,,,,2001");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(321_274), "321,274");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
