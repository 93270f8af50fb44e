//! `-S/--select`: lvm2's selection criteria for reports and the commands that take them
//! (libdm-report.c's grammar): statements `field OP value` joined by `&&`/`,` (and), `||`/`#`
//! (or), `!( ... )` and parentheses; `=`, `!=`, `<`, `<=`, `>`, `>=` (numbers, sizes,
//! percents, times), `since`, `after`, `until`, `before` (times), `=~`, `!~` (regular
//! expressions on strings); sizes with lvm2's units (default MiB, lower case powers of 1024,
//! upper case powers of 1000); string lists as one item (any match), `[a,b]` (exactly
//! these), `{a,b}` (at least these), `[a||b]`/`{a||b}` (any); times as [`crate::timespec`]
//! reads them; lvm2's reserved values (values.h: `-1`/`unknown`/`undefined`/`undef` for
//! numbers, `vg_permissions`' names). Errors are lvm2's lines.
//!
//! Values compare as libdm compares them: numbers as 64-bit integers, sizes as doubles of
//! sectors within `DBL_EPSILON`, and the two fields whose lvm2 type and value disagree
//! (`pe_start`, `seg_size_pe`) through the same reinterpretation of bits lvm2 does.

use crate::report::{find_field, Cell, FieldDef, Kind, ReportKind};
use crate::timespec::{Clock, TimeValue};

/// A parsed selection.
#[derive(Debug, Clone)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        field: &'static FieldDef,
        op: Op,
        value: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    NotMatch,
}

#[derive(Debug, Clone)]
pub enum Value {
    Str(String),
    Regex(regex::Regex),
    /// A percentage.
    Num(f64),
    /// A number field's value (lvm2 reads it with `strtoull`).
    Int(u64),
    /// A size field's value in sectors (lvm2: `strtod` × unit / 512).
    Sectors(f64),
    /// A time field's value: an instant or a range.
    Time(TimeValue),
    /// lvm2's reserved value of number fields (`-1`, `unknown`, `undefined`, `undef`): an
    /// undefined number. `=` matches undefined values only, `!=` defined ones, an ordering
    /// nothing.
    Undefined,
    /// Items, sorted; `all`: every item must match (`,`/`&&`), else any (`||`/`#`, or a
    /// single item); `strict`: `[...]`, the value's list is exactly the items.
    List {
        items: Vec<String>,
        all: bool,
        strict: bool,
    },
}

/// A selection lvm2 would refuse: its error lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", lines.join("\n"))]
pub struct SelectError {
    pub lines: Vec<String>,
}

/// Lines of help text as lvm2 logs them before some errors (the log adds the indent).
fn help_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l).to_string())
        .collect()
}

/// lvm2 lists the operators (`_display_selection_help`) before an operator's error.
fn with_operator_help(line: String) -> Vec<String> {
    let mut v = help_lines(HELP_TAIL);
    v.push(line);
    v
}

/// lvm2 lists the fields (`_display_fields`) and a blank line before an unknown field's
/// error; lvmeta lists its own fields.
fn with_field_help(line: String) -> Vec<String> {
    let all = help();
    let mut v = help_lines(&all[..all.len() - HELP_TAIL.len()]);
    v.push(" ".into());
    v.push(line);
    v
}

fn syntax(what: Vec<String>, at: &str) -> SelectError {
    let mut lines = what;
    lines.push(format!("Selection syntax error at '{at}'."));
    lines.push("Use 'help' for selection to get more help.".into());
    SelectError { lines }
}

/// `-S help` (or `?`): lvm2's help text (`dm_report` `_display_fields` with types, then the
/// operands and operators), on stderr. The fields are lvmeta's, each in lvm2's section and
/// with lvm2's line; then lvm2's operands, reserved values and operators.
pub fn help() -> String {
    use crate::report::{FieldType as T, FIELDS};
    // lvm2 files these apart from the other LV and PV fields (lib/report/columns.h).
    let status = ["data_percent", "metadata_percent", "copy_percent"];
    let label = [
        "pv_fmt",
        "pv_uuid",
        "dev_size",
        "pv_name",
        "pv_mda_free",
        "pv_mda_size",
    ];
    type Member<'a> = &'a dyn Fn(&FieldDef) -> bool;
    let sections: [(&str, Member); 10] = [
        ("Logical Volume Fields", &|f| {
            f.ftype == T::Lv && !status.contains(&f.name) && f.name != "lv_attr"
        }),
        ("Logical Volume Device Info Fields", &|_| false),
        ("Logical Volume Device Status Fields", &|f| {
            status.contains(&f.name)
        }),
        (
            "Logical Volume Device Info and Status Combined Fields",
            &|f| f.name == "lv_attr",
        ),
        ("Physical Volume Label Fields", &|f| {
            f.ftype == T::Pv && label.contains(&f.name)
        }),
        ("Physical Volume Fields", &|f| {
            f.ftype == T::Pv && !label.contains(&f.name)
        }),
        ("Volume Group Fields", &|f| f.ftype == T::Vg),
        ("Logical Volume Segment Fields", &|f| f.ftype == T::Seg),
        ("Physical Volume Segment Fields", &|_| false),
        ("Special Fields", &|_| false),
    ];
    let mut out = String::new();
    for (title, member) in sections {
        out.push_str(&format!("  {title}\n  {}\n", "-".repeat(title.len())));
        for f in FIELDS.iter().filter(|f| member(f)) {
            let ty = match f.kind {
                Kind::Str => "string",
                Kind::List => "string list",
                Kind::Size | Kind::SizeOfNum => "size",
                Kind::Num | Kind::NumOfSize => "number",
                Kind::Pct => "percent",
                Kind::Time => "time",
            };
            out.push_str(&format!("    {:<28}- {} [{ty}]\n", f.name, f.desc));
        }
        if title == "Special Fields" {
            out.push_str(&format!(
                "    {:<28}- Show help. [unselectable number]\n",
                "help"
            ));
            out.push_str(&format!(
                "    {:<28}- Show help. [unselectable number]\n",
                "?"
            ));
        }
        out.push_str("   \n");
    }
    out.push_str(HELP_TAIL);
    out
}

/// lvm2's operand, reserved value and operator lines (libdm-report.c
/// `_display_selection_help`, with the reserved values lvm2's reports register).
const HELP_TAIL: &str = "  Selection operands
  ------------------
    field               - Reporting field.
    number              - Non-negative integer value.
    size                - Floating point value with units, 'm' unit used by default if not specified.
    percent             - Non-negative integer with or without % suffix.
    string              - Characters quoted by ' or \" or unquoted.
    string list         - Strings enclosed by [ ] or { } and elements delimited by either
                          \"all items must match\" or \"at least one item must match\" operator.
    regular expression  - Characters quoted by ' or \" or unquoted.
   
  Reserved values
  ---------------
    -1, unknown, undefined, undef   - Reserved value for undefined numeric value. [number]
    allocatable, yes                -  [unknown]
    allocatable, no                 -  [unknown]
    exported, yes                   -  [unknown]
    exported, no                    -  [unknown]
    missing, yes                    -  [unknown]
    missing, no                     -  [unknown]
    used, in use, yes               -  [unknown]
    used, in use, no                -  [unknown]
    duplicate, yes                  -  [unknown]
    duplicate, no                   -  [unknown]
    extendable, yes                 -  [unknown]
    extendable, no                  -  [unknown]
    exported, yes                   -  [unknown]
    exported, no                    -  [unknown]
    partial, yes                    -  [unknown]
    partial, no                     -  [unknown]
    clustered, yes                  -  [unknown]
    clustered, no                   -  [unknown]
    shared, yes                     -  [unknown]
    shared, no                      -  [unknown]
    writeable, rw, read-write       -  [unknown]
    read-only, r, ro                -  [unknown]
   
  Selection operators
  -------------------
    Comparison operators:
          =~  - Matching regular expression. [regex]
          !~  - Not matching regular expression. [regex]
           =  - Equal to. [number, size, percent, string, string list, time]
          !=  - Not equal to. [number, size, percent, string, string_list, time]
          >=  - Greater than or equal to. [number, size, percent, time]
           >  - Greater than. [number, size, percent, time]
          <=  - Less than or equal to. [number, size, percent, time]
           <  - Less than. [number, size, percent, time]
       since  - Since specified time (same as '>='). [time]
       after  - After specified time (same as '>'). [time]
       until  - Until specified time (same as '<='). [time]
      before  - Before specified time (same as '<'). [time]
   
    Logical and grouping operators:
        &&  - All fields must match
         ,  - All fields must match
        ||  - At least one field must match
         #  - At least one field must match
         !  - Logical negation
         (  - Left parenthesis
         )  - Right parenthesis
         [  - List start
         ]  - List end
         {  - List subset start
         }  - List subset end
   
";

/// Whether a selection asks for the help text (lvm2: the whole selection is `help` or `?`).
pub fn is_help(text: &str) -> bool {
    matches!(text.trim(), "help" | "?")
}

/// Parses `text` for a report of `kind` (its fields and their prefixes, as `-o` resolves
/// them); times are read against this host's clock and zone.
pub fn parse(kind: ReportKind, text: &str) -> Result<Expr, SelectError> {
    parse_at(kind, text, &Clock::system())
}

/// [`parse`] with times read against `clock`.
pub fn parse_at(kind: ReportKind, text: &str, clock: &Clock) -> Result<Expr, SelectError> {
    let mut p = Parser {
        s: text,
        pos: 0,
        kind,
        clock,
    };
    let e = p.or_ex()?;
    p.ws();
    if p.pos < p.s.len() {
        return Err(syntax(vec!["Expecting logical operator".into()], p.rest()));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    kind: ReportKind,
    clock: &'a Clock,
}

/// Characters that end a bare value.
fn ends_bare(c: char) -> bool {
    c.is_whitespace() || "()[]{},#&|".contains(c)
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn ws(&mut self) {
        let t = self.rest();
        self.pos += t.len() - t.trim_start().len();
    }
    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }

    fn or_ex(&mut self) -> Result<Expr, SelectError> {
        self.chain(["||", "#"], Self::and_ex, Expr::Or)
    }

    fn and_ex(&mut self) -> Result<Expr, SelectError> {
        self.chain(["&&", ","], Self::ex, Expr::And)
    }

    /// `next`s joined left to right by an operator spelled either way of `ops`.
    fn chain(
        &mut self,
        ops: [&str; 2],
        next: fn(&mut Self) -> Result<Expr, SelectError>,
        join: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Expr, SelectError> {
        let mut e = next(self)?;
        while ops.iter().any(|op| self.eat(op)) {
            let r = next(self)?;
            e = join(Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn ex(&mut self) -> Result<Expr, SelectError> {
        if self.eat("!") {
            if !self.eat("(") {
                return Err(SelectError {
                    lines: vec![format!(
                        "Syntax error: left parenthesis expected at '{}'",
                        self.rest()
                    )],
                });
            }
            let e = self.group()?;
            return Ok(Expr::Not(Box::new(e)));
        }
        if self.eat("(") {
            return self.group();
        }
        self.statement()
    }

    /// After `(`: the inner expression and `)`.
    fn group(&mut self) -> Result<Expr, SelectError> {
        let e = self.or_ex()?;
        if !self.eat(")") {
            return Err(SelectError {
                lines: vec![format!(
                    "Syntax error: right parenthesis expected at '{}'",
                    self.rest()
                )],
            });
        }
        Ok(e)
    }

    fn statement(&mut self) -> Result<Expr, SelectError> {
        self.ws();
        let start = self.pos;
        let name_len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        if name_len == 0 {
            return Err(syntax(vec!["Expecting field name".into()], self.rest()));
        }
        let name = &self.s[self.pos..self.pos + name_len];
        self.pos += name_len;
        let stmt = &self.s[start..];
        // lvm2 quotes the operator's error from right after the field name.
        let after_name = self.rest();
        let field = find_field(self.kind, name).ok_or_else(|| {
            syntax(
                with_field_help(format!("Unrecognised selection field: {name}")),
                stmt,
            )
        })?;
        self.ws();
        let op = [
            ("=~", Op::Match),
            ("!~", Op::NotMatch),
            ("!=", Op::Ne),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("=", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("since", Op::Ge),
            ("after", Op::Gt),
            ("until", Op::Le),
            ("before", Op::Lt),
        ]
        .into_iter()
        .find(|(t, _)| self.rest().starts_with(t));
        let Some((tok, op)) = op else {
            return Err(syntax(
                with_operator_help(format!("Unrecognised comparison operator: {after_name}")),
                stmt,
            ));
        };
        self.pos += tok.len();
        let ordering = matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge);
        let regex = matches!(op, Op::Match | Op::NotMatch);
        let numeric = !matches!(field.kind, Kind::Str | Kind::List);
        if tok.starts_with(|c: char| c.is_ascii_alphabetic()) && field.kind != Kind::Time {
            return Err(syntax(
                with_operator_help(format!(
                    "Operator can be used only with time fields: {stmt}"
                )),
                stmt,
            ));
        }
        if ordering && !numeric {
            return Err(syntax(
                with_operator_help(format!(
                    "Operator can be used only with number, size, time or percent fields: {stmt}"
                )),
                stmt,
            ));
        }
        if regex && field.kind != Kind::Str {
            return Err(SelectError {
                lines: vec![format!(
                    "dm_report: incompatible comparison type for selection field {}",
                    field.name
                )],
            });
        }
        self.ws();
        let value = if regex {
            let v = self.string_value();
            let r = v.and_then(|v| regex::Regex::new(&v).ok()).ok_or_else(|| {
                syntax(
                    vec![format!(
                        "Failed to parse regex value for selection field {}.",
                        field.name
                    )],
                    stmt,
                )
            })?;
            Value::Regex(r)
        } else {
            match field.kind {
                Kind::Str => {
                    let v = self.string_value().ok_or_else(|| {
                        syntax(
                            vec![
                                // lvm2 reads the value twice (reserved names, then the
                                // string) and says so each time.
                                "Missing end quote.".into(),
                                "Missing end quote.".into(),
                                format!(
                                    "Failed to parse string value for selection field {}.",
                                    field.name
                                ),
                            ],
                            stmt,
                        )
                    })?;
                    Value::Str(reserved_name(field, &v).unwrap_or(v))
                }
                Kind::List => self.list_value(field, stmt)?,
                Kind::Time => self.time_value(field, stmt)?,
                Kind::Num | Kind::Size | Kind::Pct | Kind::NumOfSize | Kind::SizeOfNum => {
                    self.number_value(field, stmt)?
                }
            }
        };
        Ok(Expr::Cmp { field, op, value })
    }

    /// A quoted (`"..."`, `'...'`) or bare string (empty at the end of the text, as lvm2
    /// takes `lv_name=`); None for an unterminated quote.
    fn string_value(&mut self) -> Option<String> {
        let rest = self.rest();
        let q = rest.chars().next().unwrap_or(' ');
        if q == '"' || q == '\'' {
            let end = rest[1..].find(q)?;
            self.pos += end + 2;
            return Some(rest[1..=end].to_string());
        }
        let len = rest.find(ends_bare).unwrap_or(rest.len());
        self.pos += len;
        Some(rest[..len].to_string())
    }

    fn list_value(&mut self, field: &FieldDef, stmt: &str) -> Result<Value, SelectError> {
        let failed = |what: &str| {
            let mut v = Vec::new();
            if !what.is_empty() {
                v.push(what.to_string());
            }
            v.push(format!(
                "Failed to parse string list value for selection field {}.",
                field.name
            ));
            syntax(v, stmt)
        };
        let open = self.rest().chars().next();
        let (strict, close) = match open {
            Some('[') => (true, ']'),
            Some('{') => (false, '}'),
            _ => {
                let item = self.string_value().ok_or_else(|| failed(""))?;
                return Ok(Value::List {
                    items: vec![item],
                    all: false,
                    strict: true,
                });
            }
        };
        self.pos += 1;
        let mut items = Vec::new();
        let mut all: Option<bool> = None;
        loop {
            self.ws();
            let item = self
                .string_value()
                .ok_or_else(|| failed("Invalid operator in selection list."))?;
            items.push(item);
            self.ws();
            if self.rest().starts_with(close) {
                self.pos += 1;
                break;
            }
            let this = if self.eat("&&") || self.eat(",") {
                true
            } else if self.eat("||") || self.eat("#") {
                false
            } else if self.rest().starts_with([']', '}']) {
                return Err(failed(
                    "List ended with incorrect character, expecting the other list end character.",
                ));
            } else {
                return Err(failed("Invalid operator in selection list."));
            };
            if all.is_some_and(|a| a != this) {
                return Err(failed(
                    "Only one type of logical operator allowed in selection list at a time.",
                ));
            }
            all = Some(this);
        }
        items.sort();
        Ok(Value::List {
            items,
            all: all.unwrap_or(true),
            strict,
        })
    }

    /// A time value: `@SECONDS`, or a (quoted) date as [`crate::timespec`] reads it.
    fn time_value(&mut self, field: &FieldDef, stmt: &str) -> Result<Value, SelectError> {
        let failed = |mut lines: Vec<String>| {
            lines.push(format!(
                "Failed to parse time value for selection field {}.",
                field.name
            ));
            syntax(lines, stmt)
        };
        let rest = self.rest();
        if let Some(num) = rest.strip_prefix('@') {
            let tok = number_token(num);
            if tok.is_empty() {
                return Err(failed(Vec::new()));
            }
            self.pos += 1 + tok.len();
            let (t, over) = strtoull(tok);
            if over {
                return Err(failed(vec![out_of_range(tok, field)]));
            }
            // time_t from uint64_t, as lvm2 casts it.
            return Ok(Value::Time(TimeValue {
                t1: t as i64,
                t2: None,
            }));
        }
        let quoted = rest.starts_with(['"', '\'']);
        let Some(tok) = self.string_value() else {
            return Err(failed(vec![
                "Missing end quote.".into(),
                "Missing end quote.".into(),
            ]));
        };
        // lvm2 parses the token in place with a NUL over its end (the closing quote or the
        // character that ended it), and its natural-form reader can step past that NUL.
        let after = if quoted {
            self.rest()
        } else {
            self.rest().get(1..).unwrap_or("")
        };
        crate::timespec::parse(&tok, after, self.clock)
            .map(Value::Time)
            .map_err(failed)
    }

    fn number_value(&mut self, field: &FieldDef, stmt: &str) -> Result<Value, SelectError> {
        let rest = self.rest();
        let bad = || {
            syntax(
                vec![format!(
                    "Failed to parse numeric value for selection field {}.",
                    field.name
                )],
                stmt,
            )
        };
        // Reserved values, bare or quoted, of fields lvm2 types as numbers only.
        if matches!(field.kind, Kind::Num | Kind::NumOfSize) {
            for word in ["undefined", "unknown", "undef", "-1"] {
                for q in ["", "\"", "'"] {
                    let w = format!("{q}{word}{q}");
                    if rest.starts_with(&w) && rest[w.len()..].chars().next().is_none_or(ends_bare)
                    {
                        self.pos += w.len();
                        return Ok(Value::Undefined);
                    }
                }
            }
        }
        // libdm's _tok_value_number: digits and at most one dot; nothing negative.
        let tok = number_token(rest);
        if tok.is_empty() {
            return Err(bad());
        }
        self.pos += tok.len();
        let declared = match field.kind {
            Kind::NumOfSize => Kind::Num,
            Kind::SizeOfNum => Kind::Size,
            k => k,
        };
        let mut factor: Option<f64> = None;
        match self.rest().chars().next() {
            Some('%') => {
                self.pos += 1;
                if declared != Kind::Pct {
                    return Err(syntax(
                        vec![format!(
                            "Found percent value but {} value expected for selection field {}.",
                            if declared == Kind::Num {
                                "numeric"
                            } else {
                                "size"
                            },
                            field.name
                        )],
                        stmt,
                    ));
                }
            }
            Some(c) if "bBsSkKmMgGtTpPeE".contains(c) => {
                if declared != Kind::Size {
                    return Err(syntax(
                        vec![format!(
                            "Found size unit specifier but {} value expected for selection field {}.",
                            if declared == Kind::Num { "numeric" } else { "percent" },
                            field.name
                        )],
                        stmt,
                    ));
                }
                self.pos += 1;
                factor = Some(unit_factor(c));
            }
            _ if declared == Kind::Size => factor = Some(unit_factor('m')),
            _ => {}
        }
        match declared {
            Kind::Num => {
                let (v, over) = strtoull(tok);
                if over {
                    return Err(SelectError {
                        lines: vec![out_of_range(tok, field)],
                    });
                }
                if v == u64::MAX {
                    return Err(SelectError {
                        lines: vec![format!("Numeric value {v} found in selection is reserved.")],
                    });
                }
                Ok(Value::Int(v))
            }
            Kind::Size => {
                let d = strtod(tok) * factor.unwrap_or(1.0) / 512.0;
                if d.is_infinite() {
                    return Err(SelectError {
                        lines: vec![out_of_range(tok, field)],
                    });
                }
                Ok(Value::Sectors(d))
            }
            _ => {
                let n = strtod(tok);
                if !(0.0..=100.0).contains(&n) {
                    return Err(SelectError {
                        lines: vec![out_of_range(tok, field)],
                    });
                }
                Ok(Value::Num(n))
            }
        }
    }
}

/// libdm's `_tok_value_number`: the leading digits with at most one dot.
fn number_token(s: &str) -> &str {
    let mut dot = false;
    let len = s
        .bytes()
        .take_while(|&b| {
            if b == b'.' && !dot {
                dot = true;
                return true;
            }
            b.is_ascii_digit()
        })
        .count();
    &s[..len]
}

/// C's `strtoull` on a number token: the integer part; whether it overflowed.
fn strtoull(tok: &str) -> (u64, bool) {
    let mut v: u64 = 0;
    for b in tok.bytes().take_while(u8::is_ascii_digit) {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(b - b'0')))
        {
            Some(x) => v = x,
            None => return (u64::MAX, true),
        }
    }
    (v, false)
}

/// C's `strtod` on a number token ("." reads as 0).
fn strtod(tok: &str) -> f64 {
    tok.parse().unwrap_or(0.0)
}

fn out_of_range(tok: &str, field: &FieldDef) -> String {
    format!(
        "Field selection value {tok} out of supported range for field {}.",
        field.name
    )
}

/// lvm2's reserved names of string fields (values.h) that lvmeta reports: the value a name
/// stands for.
fn reserved_name(field: &FieldDef, v: &str) -> Option<String> {
    match field.name {
        "vg_permissions" => match v {
            "writeable" | "rw" | "read-write" => Some("writeable".into()),
            "read-only" | "r" | "ro" => Some("read-only".into()),
            _ => None,
        },
        _ => None,
    }
}

/// Bytes per unit, as lvm2's `dm_units_to_factor`: lower case powers of 1024, upper case
/// powers of 1000; `b` bytes, `s` sectors.
fn unit_factor(c: char) -> f64 {
    let pow = |base: f64, i: usize| base.powi(i as i32 + 1);
    match c {
        'b' | 'B' => 1.0,
        's' | 'S' => 512.0,
        _ => {
            if let Some(i) = "kmgtpe".find(c) {
                pow(1024.0, i)
            } else if let Some(i) = "KMGTPE".find(c) {
                pow(1000.0, i)
            } else {
                1.0
            }
        }
    }
}

impl Expr {
    /// The fields the selection reads, in order of appearance (each once).
    pub fn fields(&self) -> Vec<&'static FieldDef> {
        let mut out: Vec<&'static FieldDef> = Vec::new();
        self.walk(&mut |f| {
            if !out.iter().any(|g| std::ptr::eq(*g, f)) {
                out.push(f);
            }
        });
        out
    }

    fn walk(&self, f: &mut dyn FnMut(&'static FieldDef)) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Not(a) => a.walk(f),
            Expr::Cmp { field, .. } => f(field),
        }
    }

    /// Whether a row matches; `cell` gives the value of each field [`Expr::fields`] named.
    pub fn matches(&self, cell: &dyn Fn(&'static FieldDef) -> Cell) -> bool {
        match self {
            Expr::And(a, b) => a.matches(cell) && b.matches(cell),
            Expr::Or(a, b) => a.matches(cell) || b.matches(cell),
            Expr::Not(a) => !a.matches(cell),
            Expr::Cmp { field, op, value } => compare(&cell(field), *op, value),
        }
    }
}

fn compare(c: &Cell, op: Op, v: &Value) -> bool {
    let text = match c {
        Cell::Str(s) => s.clone(),
        Cell::Empty => String::new(),
        _ => String::new(),
    };
    match (v, op) {
        (Value::Regex(r), Op::Match) => r.is_match(&text),
        (Value::Regex(r), _) => !r.is_match(&text),
        (Value::Str(s), Op::Eq) => text == *s,
        (Value::Str(s), _) => text != *s,
        (Value::List { items, all, strict }, op) => {
            // Lists are comma separated in a cell (PE ranges: space separated).
            let mut have: Vec<&str> = text.split([',', ' ']).filter(|t| !t.is_empty()).collect();
            have.sort_unstable();
            let r = if have.is_empty() {
                // An empty list matches only a selection of the empty string.
                items.iter().any(String::is_empty) && (items.len() == 1 || !*all)
            } else if !*all {
                items.iter().any(|i| have.contains(&i.as_str()))
            } else if *strict {
                have.len() == items.len() && have.iter().zip(items).all(|(a, b)| *a == b)
            } else {
                items.iter().all(|i| have.contains(&i.as_str()))
            };
            if op == Op::Ne {
                !r
            } else {
                r
            }
        }
        (Value::Undefined, op) => {
            let undefined = matches!(c, Cell::Pct(None) | Cell::Empty);
            match op {
                Op::Eq => undefined,
                Op::Ne => !undefined,
                _ => false,
            }
        }
        (Value::Num(want), op) => {
            let have = match c {
                Cell::Pct(Some(p)) => *p,
                // Undefined values (a percentage of an inactive LV) match nothing but !=.
                _ => return op == Op::Ne,
            };
            let eq = (have - want).abs() <= f64::EPSILON * have.abs().max(1.0);
            order_of_doubles(op, have, *want, eq)
        }
        (Value::Int(want), op) => {
            let have = match c {
                Cell::Num(n) => *n as u64,
                // pe_start: lvm2 stores a double of sectors and compares its bits as an
                // integer (columns.h declares NUM, _size64_disp stores a double).
                Cell::Size(s) => (*s as f64).to_bits(),
                _ => return op == Op::Ne,
            };
            match op {
                Op::Eq => have == *want,
                Op::Ne => have != *want,
                // libdm: an undefined value (all ones) is in no order.
                _ if have == u64::MAX => false,
                Op::Lt => have < *want,
                Op::Le => have <= *want,
                Op::Gt => have > *want,
                Op::Ge => have >= *want,
                Op::Match | Op::NotMatch => false,
            }
        }
        (Value::Sectors(want), op) => {
            let have = match c {
                Cell::Size(s) => *s as f64,
                // seg_size_pe: lvm2 stores a 64-bit count and compares it read as a double
                // (columns.h declares SIZ, _segsizepe_disp stores an integer).
                Cell::Num(n) => f64::from_bits(*n as u64),
                _ => return op == Op::Ne,
            };
            // libdm's _dbl_* helpers: equal within DBL_EPSILON (absolute).
            let eq = (have - want).abs() < f64::EPSILON;
            order_of_doubles(op, have, *want, eq)
        }
        (Value::Time(tv), op) => {
            // lvm2 compares an unknown time as 0.
            let have = match c {
                Cell::Time(t) => *t,
                _ => 0,
            };
            let (t1, t2) = (tv.t1, tv.t2.unwrap_or(tv.t1));
            match op {
                // libdm's _cmp_field_time: `!=` on a range tests what `=` tests.
                Op::Eq => have >= t1 && have <= t2,
                Op::Ne if tv.t2.is_some() => have >= t1 && have <= t2,
                Op::Ne => have != t1,
                Op::Gt => have > t2,
                Op::Ge => have >= t1,
                Op::Lt => have < t1,
                Op::Le => have <= t2,
                Op::Match | Op::NotMatch => false,
            }
        }
    }
}

/// libdm's comparison of two doubles once `eq` (its own tolerance per type) is known.
fn order_of_doubles(op: Op, have: f64, want: f64, eq: bool) -> bool {
    match op {
        Op::Eq => eq,
        Op::Ne => !eq,
        Op::Lt => have < want && !eq,
        Op::Le => have < want || eq,
        Op::Gt => have > want && !eq,
        Op::Ge => have > want || eq,
        Op::Match | Op::NotMatch => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lvs(s: &str) -> Result<Expr, SelectError> {
        parse(ReportKind::Lvs, s)
    }

    fn row(name: &str, size_mib: u64, tags: &str) -> impl Fn(&'static FieldDef) -> Cell {
        let name = name.to_string();
        let tags = tags.to_string();
        move |f: &'static FieldDef| match f.name {
            "lv_name" => Cell::Str(name.clone()),
            "lv_size" => Cell::Size(size_mib * 2048),
            "lv_tags" => Cell::Str(tags.clone()),
            "seg_count" => Cell::Num(2),
            "copy_percent" => Cell::Pct(Some(50.0)),
            // 2026-12-07 02:14:33 UTC
            "lv_time" => Cell::Time(1_796_609_673),
            "lv_time_removed" => Cell::Time(0),
            "vg_permissions" => Cell::Str("writeable".into()),
            "seg_size_pe" => Cell::Num(2),
            _ => Cell::Empty,
        }
    }

    fn at_utc(s: &str) -> Result<Expr, SelectError> {
        // Monday 2026-12-07 10:00:00 UTC.
        let clock = Clock {
            now: 1_796_637_600,
            zone: crate::localtime::Zone::utc(),
        };
        parse_at(ReportKind::Lvs, s, &clock)
    }

    #[test]
    fn time_operators_and_ranges_as_lvm2() {
        let r = row("lv1", 8, "");
        let t = |s: &str| at_utc(s).unwrap().matches(&r);
        assert!(t("lv_time=@1796609673"));
        assert!(!t("lv_time=@1796609672"));
        assert!(t("lv_time!=@1796609672"));
        assert!(t("lv_time since @1796609673"));
        assert!(!t("lv_time after @1796609673"));
        assert!(t("lv_time until @1796609673"));
        assert!(!t("lv_time before @1796609673"));
        // A day is a range: = inside, > after its end, < before its start.
        assert!(t("lv_time=2026-12-07"));
        assert!(t("lv_time>=2026-12-07 && lv_time<=2026-12-07"));
        assert!(!t("lv_time>2026-12-07"));
        assert!(!t("lv_time<2026-12-07"));
        assert!(t("lv_time<2026-12-08"));
        // lvm2's != on a range tests what = tests.
        assert!(t("lv_time!=2026-12-07"));
        assert!(!t("lv_time!=2026-12-06"));
        assert!(t("lv_time=\"2026-12-07 02:14\""));
        assert!(t("lv_time=\"2026-12-07 03:14 +01:00\""));
        assert!(t("lv_time=today && lv_time since \"10 hours ago\""));
        assert!(t("lv_time since yesterday, lv_time=Monday"));
        assert!(!t("lv_time=yesterday"));
        // An unknown time is 0.
        assert!(t("lv_time_removed=@0"));
        assert!(t("lv_time_removed before 1971"));
    }

    #[test]
    fn time_errors_as_lvm2() {
        let e = |s: &str| at_utc(s).unwrap_err().lines;
        assert_eq!(
            e("lv_time=foo"),
            [
                "Unrecognized string in date/time specification at \"foo\".",
                "Failed to parse time value for selection field lv_time.",
                "Selection syntax error at 'lv_time=foo'.",
                "Use 'help' for selection to get more help."
            ]
        );
        assert_eq!(
            e("lv_time=\"abc")[..3],
            [
                "Missing end quote.",
                "Missing end quote.",
                "Failed to parse time value for selection field lv_time."
            ]
        );
        assert_eq!(
            e("lv_time>@99999999999999999999")[..2],
            [
                "Field selection value 99999999999999999999 out of supported range for field lv_time.",
                "Failed to parse time value for selection field lv_time."
            ]
        );
        assert_eq!(
            e("lv_time=@")[0],
            "Failed to parse time value for selection field lv_time."
        );
        assert_eq!(
            e("lv_time=~x"),
            ["dm_report: incompatible comparison type for selection field lv_time"]
        );
    }

    #[test]
    fn reserved_names_of_strings() {
        // values.h: vg_permissions' names stand for the value lvm2 shows; regexes see none.
        let r = row("lv1", 8, "");
        let t = |s: &str| lvs(s).unwrap().matches(&r);
        for v in ["writeable", "rw", "read-write", "\"rw\"", "'read-write'"] {
            assert!(t(&format!("vg_permissions={v}")), "{v}");
        }
        for v in ["read-only", "r", "ro"] {
            assert!(t(&format!("vg_permissions!={v}")), "{v}");
        }
        assert!(!t("vg_permissions=~rw"));
        assert!(t("vg_permissions=~writ"));
    }

    #[test]
    fn numbers_sizes_and_lvm2s_reinterpreted_fields() {
        let p = |s: &str| parse(ReportKind::Pvs, s);
        // pe_start: a plain integer compared with the bits of lvm2's double of sectors.
        let pv = |f: &'static FieldDef| match f.name {
            "pe_start" => Cell::Size(2048),
            _ => Cell::Empty,
        };
        let bits = 2048f64.to_bits();
        assert!(!p("pe_start=2048").unwrap().matches(&pv));
        assert!(p(&format!("pe_start={bits}")).unwrap().matches(&pv));
        assert!(p(&format!("pe_start<{}", bits + 1)).unwrap().matches(&pv));
        assert!(p("pe_start>0").unwrap().matches(&pv));
        assert!(!p("pe_start=undef").unwrap().matches(&pv));
        assert_eq!(
            p("pe_start=1m").unwrap_err().lines[0],
            "Found size unit specifier but numeric value expected for selection field pe_start."
        );
        // seg_size_pe: a size compared with lvm2's integer read as a double (a denormal,
        // equal to 0 within DBL_EPSILON).
        let r = row("lv1", 8, "");
        let t = |s: &str| lvs(s).unwrap().matches(&r);
        assert!(t("seg_size_pe=0"));
        assert!(!t("seg_size_pe=2"));
        assert!(!t("seg_size_pe>0"));
        assert!(t("seg_size_pe<1b"));
        assert!(lvs("seg_size_pe=-1").is_err());
        // Numbers: integers (strtoull), all ones reserved, beyond 64 bits refused.
        assert!(t("seg_count=2.9"));
        assert_eq!(
            lvs("seg_count=18446744073709551615").unwrap_err().lines,
            ["Numeric value 18446744073709551615 found in selection is reserved."]
        );
        assert_eq!(
            lvs("seg_count=18446744073709551616").unwrap_err().lines,
            ["Field selection value 18446744073709551616 out of supported range for field seg_count."]
        );
        // Sizes: sectors within DBL_EPSILON.
        assert!(
            t("lv_size=8388608.0000001b")
                == ((8388608.0000001f64 / 512.0 - 16384.0).abs() < f64::EPSILON)
        );
        assert!(t("lv_size=16384s"));
        assert!(!t("lv_size=8.0001m"));
        // One dot only.
        assert!(lvs("lv_size=1.2.3").is_err());
    }

    #[test]
    fn statements_and_logic() {
        let r = row("lv1", 8, "b,a");
        let t = |s: &str| lvs(s).unwrap().matches(&r);
        assert!(t("lv_name=lv1"));
        assert!(t("name=lv1"), "prefix as -o");
        assert!(t("lv_name = \"lv1\""));
        assert!(!t("lv_name!=lv1"));
        assert!(t("lv_name=~^lv"));
        assert!(t("lv_name!~x"));
        assert!(t("lv_size=8m && seg_count>1"));
        assert!(t("lv_size=8"), "MiB by default");
        assert!(t("lv_size>=8388608b, lv_size<9M"));
        assert!(!t("lv_size>8m"));
        assert!(t("lv_size>8m || lv_name=lv1"));
        assert!(t("lv_size>8m # lv_name=lv1"));
        assert!(t("!(lv_size>8m)"));
        assert!(t("(lv_size>8m || seg_count=2) && lv_name=lv1"));
        assert!(t("copy_percent>=50%"));
        // string lists
        assert!(t("lv_tags=a"));
        assert!(t("lv_tags=[a,b]"));
        assert!(t("lv_tags=[b&&a]"));
        assert!(!t("lv_tags=[a]"));
        assert!(t("lv_tags={a}"));
        assert!(!t("lv_tags={a,c}"));
        assert!(t("lv_tags={c||a}"));
        assert!(t("lv_tags!=[a]"));
        let empty = row("lv2", 4, "");
        assert!(lvs("lv_tags=\"\"").unwrap().matches(&empty));
        assert!(!lvs("lv_tags=a").unwrap().matches(&empty));
    }

    #[test]
    fn reserved_values_as_lvm2() {
        // lvm2 2.03.16: number fields take -1/unknown/undefined/undef (bare or quoted) for an
        // undefined value, which no defined value equals and no ordering matches; no other
        // negative value, and none for sizes and percents.
        let r = row("lv1", 8, "");
        let t = |s: &str| lvs(s).unwrap().matches(&r);
        for v in [
            "-1",
            "unknown",
            "undefined",
            "undef",
            "\"undefined\"",
            "'undef'",
        ] {
            assert!(!t(&format!("seg_count={v}")), "{v}");
            assert!(t(&format!("seg_count!={v}")), "{v}");
            for op in [">", ">=", "<", "<="] {
                assert!(!t(&format!("seg_count{op}{v}")), "{op}{v}");
            }
        }
        assert!(t("seg_count=undef||lv_name=lv1"));
        let bad = |s: &str| lvs(s).unwrap_err().lines[0].clone();
        for (s, f) in [
            ("seg_count=-2", "seg_count"),
            ("seg_count=-1.0", "seg_count"),
            ("seg_count=UNDEFINED", "seg_count"),
            ("lv_size=-1", "lv_size"),
            ("lv_size=undefined", "lv_size"),
            ("copy_percent>-1", "copy_percent"),
        ] {
            assert_eq!(
                bad(s),
                format!("Failed to parse numeric value for selection field {f}."),
                "{s}"
            );
        }
    }

    #[test]
    fn errors_in_lvm2s_words() {
        // Each as lvm2 2.03.16 prints it.
        let e = |s: &str| lvs(s).unwrap_err().lines;
        let tail = |v: Vec<String>, n: usize| v[v.len() - n..].to_vec();
        assert_eq!(
            tail(e("foo=1"), 4),
            [
                " ",
                "Unrecognised selection field: foo",
                "Selection syntax error at 'foo=1'.",
                "Use 'help' for selection to get more help."
            ]
        );
        assert_eq!(e("foo=1")[0], "Logical Volume Fields");
        assert_eq!(
            e("lv_size=abc")[..2],
            [
                "Failed to parse numeric value for selection field lv_size.",
                "Selection syntax error at 'lv_size=abc'."
            ]
        );
        assert_eq!(
            e("lv_name=a &&")[..2],
            ["Expecting field name", "Selection syntax error at ''."]
        );
        assert_eq!(
            e("(lv_name=a"),
            ["Syntax error: right parenthesis expected at ''"]
        );
        assert_eq!(
            e("lv_name=a)")[..2],
            [
                "Expecting logical operator",
                "Selection syntax error at ')'."
            ]
        );
        assert_eq!(
            e("lv_size>1x")[..2],
            [
                "Expecting logical operator",
                "Selection syntax error at 'x'."
            ]
        );
        let ops = help_lines(HELP_TAIL).len();
        assert_eq!(e("lv_name<a")[0], "Selection operands");
        assert_eq!(
            e("lv_name<a")[ops],
            "Operator can be used only with number, size, time or percent fields: lv_name<a"
        );
        assert_eq!(
            e("lv_name since 2026")[ops],
            "Operator can be used only with time fields: lv_name since 2026"
        );
        assert_eq!(
            e("lv_tags=[a")[..2],
            [
                "Invalid operator in selection list.",
                "Failed to parse string list value for selection field lv_tags."
            ]
        );
        assert_eq!(
            e("lv_tags=[a,b||c]")[0],
            "Only one type of logical operator allowed in selection list at a time."
        );
        assert_eq!(
            e("lv_name=a b")[..2],
            [
                "Expecting logical operator",
                "Selection syntax error at 'b'."
            ]
        );
        assert_eq!(e("!"), ["Syntax error: left parenthesis expected at ''"]);
        assert_eq!(
            e("lv_tags=~x"),
            ["dm_report: incompatible comparison type for selection field lv_tags"]
        );
        assert_eq!(
            e("lv_size=~1"),
            ["dm_report: incompatible comparison type for selection field lv_size"]
        );
        assert_eq!(
            e("data_percent>101"),
            ["Field selection value 101 out of supported range for field data_percent."]
        );
        assert_eq!(
            e("lv_name")[ops..ops + 2],
            [
                "Unrecognised comparison operator: ",
                "Selection syntax error at 'lv_name'."
            ]
        );
    }

    /// A random selection built from the grammar, and its text.
    fn expr_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            (prop_oneof!["=", "!="], "[a-z0-9]{0,4}").prop_map(|(o, v)| format!("lv_name{o}{v}")),
            (prop_oneof!["=~", "!~"], "[a-z]{1,3}").prop_map(|(o, v)| format!("lv_name{o}\"{v}\"")),
            (
                prop_oneof!["=", "!=", "<", "<=", ">", ">="],
                0u32..100,
                prop_oneof!["", "m", "k", "G", "s"]
            )
                .prop_map(|(o, n, u)| format!("lv_size{o}{n}{u}")),
            (
                prop_oneof![
                    "=", "!=", "<", "<=", ">", ">=", " since ", " after ", " until ", " before "
                ],
                prop_oneof![
                    (0u32..2_000_000_000).prop_map(|t| format!("@{t}")),
                    (1971u32..2100, 1u32..13, 1u32..29)
                        .prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
                    (1971u32..2100, 0u32..24, 0u32..60)
                        .prop_map(|(y, h, m)| format!("\"{y}-01-02 {h:02}:{m:02}\"")),
                    prop_oneof![
                        Just("today"),
                        Just("yesterday"),
                        Just("\"2 days ago\""),
                        Just("\"Feb 2026\""),
                        Just("noon")
                    ]
                    .prop_map(str::to_string),
                ]
            )
                .prop_map(|(o, v)| format!("lv_time{o}{v}")),
            (
                prop_oneof!["=", "!="],
                prop_oneof!["rw", "ro", "writeable", "read-only", "x"]
            )
                .prop_map(|(o, v)| format!("vg_permissions{o}{v}")),
            (
                prop_oneof!["=", "!="],
                prop::collection::vec("[a-c]", 1..3),
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(o, items, strict, all)| {
                    let (l, r) = if strict { ("[", "]") } else { ("{", "}") };
                    let sep = if all { "," } else { "||" };
                    format!("lv_tags{o}{l}{}{r}", items.join(sep))
                }),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    prop_oneof![Just(" && "), Just(","), Just(" || "), Just("#")],
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("{a}{op}{b}")),
                inner.clone().prop_map(|a| format!("!({a})")),
                inner.prop_map(|a| format!("( {a} )")),
            ]
        })
    }

    proptest! {
        /// Every sentence of the grammar parses, and evaluates without panicking; `!( )`
        /// inverts it and `( )` keeps it.
        #[test]
        fn grammar_sentences_parse_and_negate(text in expr_text(), size in 0u64..100, tags in "[a-c,]{0,5}") {
            let r = row("lv1", size, &tags);
            let e = lvs(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            let v = e.matches(&r);
            prop_assert_eq!(lvs(&format!("!({text})")).unwrap().matches(&r), !v);
            prop_assert_eq!(lvs(&format!("({text})")).unwrap().matches(&r), v);
            prop_assert!(!e.fields().is_empty());
        }

        /// Arbitrary text never panics the parser: it parses or fails with lvm2's lines.
        #[test]
        fn any_text_parses_or_fails_cleanly(text in "\\PC{0,40}") {
            if let Err(e) = lvs(&text) {
                prop_assert!(!e.lines.is_empty());
            }
        }
    }
}
