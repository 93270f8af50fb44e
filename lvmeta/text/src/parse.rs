//! Parser for LVM2's config grammar (the same tokens libdevmapper's config parser accepts for
//! metadata: sections, `key = value`, integers, quoted and bare strings, flat arrays, `#`
//! comments). Bounded in input size, nesting depth and array length; never panics.

use crate::tree::{ends_word, Node, Section, Value};
use std::borrow::Cow;

/// Bounds on what the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest input in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of sections (the top level is depth 0).
    pub max_depth: usize,
    /// Most elements in one array.
    pub max_array_len: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        // VG metadata nests 4 deep and the largest metadata areas are a few hundred MiB at most;
        // these bounds leave room for any real VG while keeping hostile input harmless.
        ParseLimits {
            max_bytes: 256 << 20,
            max_depth: 32,
            max_array_len: 1 << 20,
        }
    }
}

/// What went wrong, structured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("input is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("sections nest deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("array has more than {limit} elements")]
    ArrayTooLong { limit: usize },
    #[error("unexpected {found}, expected {expected}")]
    Unexpected {
        found: String,
        expected: &'static str,
    },
    #[error("unterminated string")]
    UnterminatedString,
    #[error("invalid number {text:?}")]
    BadNumber { text: String },
    #[error("floating-point value {text:?} is not supported in metadata")]
    Float { text: String },
    #[error("nested arrays are not part of the grammar")]
    NestedArray,
    #[error("NUL byte in input")]
    Nul,
}

/// A parse failure at a 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub kind: ParseErrorKind,
}

/// Parses a whole document (the top level is a section body without braces). The tree borrows
/// its strings from `text` ([`Section::into_owned`] detaches it).
pub fn parse(text: &str) -> Result<Section<'_>, ParseError> {
    parse_with_limits(text, &ParseLimits::default())
}

pub fn parse_with_limits<'a>(
    text: &'a str,
    limits: &ParseLimits,
) -> Result<Section<'a>, ParseError> {
    parse_inner(text, limits, true)
}

/// [`parse`] for a configuration file read for its settings (`lvm.conf`): the same grammar
/// and errors, but comments are skipped, not kept. Debian's `lvm.conf` is 110 KB of
/// comments around a dozen empty sections, read by every command.
pub fn parse_settings(text: &str) -> Result<Section<'_>, ParseError> {
    parse_inner(text, &ParseLimits::default(), false)
}

fn parse_inner<'a>(
    text: &'a str,
    limits: &ParseLimits,
    keep_comments: bool,
) -> Result<Section<'a>, ParseError> {
    let mut p = Parser {
        keep_comments,
        src: text,
        b: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        limits,
        entries: Vec::new(),
        items: Vec::new(),
    };
    if text.len() > limits.max_bytes {
        return Err(*p.err(ParseErrorKind::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        }));
    }
    p.section_body(0).map_err(|e| *e)
}

/// Errors are boxed inside the parser: a small `Result` keeps the hot paths' return values in
/// registers.
type PResult<T> = Result<T, Box<ParseError>>;

/// [`CLASS`] of an ASCII byte that continues a word (not [`ends_word`]).
const WORD: u8 = 1;
/// [`CLASS`] of ASCII whitespace other than `\n` (which counts a line).
const SPACE: u8 = 2;

/// Classes of ASCII bytes for the hot loops, which then need one load per byte; 0 for the
/// rest (other ASCII bytes end a word, other bytes are decoded as characters).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if matches!(c, b' ' | b'\t' | b'\r' | 0x0b | 0x0c) {
            SPACE
        } else if c > b' '
            && c != 0x7f
            && !matches!(
                c,
                b'#' | b'=' | b'{' | b'}' | b'[' | b']' | b',' | b'"' | b'\''
            )
        {
            WORD
        } else {
            0
        };
        b += 1;
    }
    t
};

/// The parser works on bytes: ASCII (all of the grammar's tokens and nearly all metadata)
/// is classified byte by byte, other characters are decoded where they occur, so it accepts
/// exactly what a char-by-char reading does. Strings, keys and comments are borrowed from the
/// input (only strings with escapes are copied). It keeps the line number as it goes (comment
/// placement needs it) and works out the column only for an error.
struct Parser<'a, 'l> {
    src: &'a str,
    b: &'a [u8],
    /// Byte offset of the next character (always on a char boundary).
    pos: usize,
    line: usize,
    /// Byte offset where the current line starts.
    line_start: usize,
    limits: &'l ParseLimits,
    /// Comments are placed in the tree (else skipped).
    keep_comments: bool,
    /// Entries of the sections being read, innermost last, and elements of the array being
    /// read: each section and array is moved out into a Vec of its exact size when it ends,
    /// instead of growing its own Vec step by step (a big VG has tens of thousands of them).
    entries: Vec<(Cow<'a, str>, Node<'a>)>,
    items: Vec<Value<'a>>,
}

impl<'a> Parser<'a, '_> {
    fn err(&self, kind: ParseErrorKind) -> Box<ParseError> {
        self.err_at(self.line, self.line_start, self.pos, kind)
    }

    /// An error at byte `pos` of line `line` (starting at byte `line_start`); the column
    /// counts characters, 1-based.
    #[cold]
    fn err_at(
        &self,
        line: usize,
        line_start: usize,
        pos: usize,
        kind: ParseErrorKind,
    ) -> Box<ParseError> {
        Box::new(ParseError {
            line,
            column: self.src[line_start..pos].chars().count() + 1,
            message: kind.to_string(),
            kind,
        })
    }

    fn peek(&self) -> Option<char> {
        let &b = self.b.get(self.pos)?;
        if b.is_ascii() {
            Some(char::from(b))
        } else {
            self.src[self.pos..].chars().next()
        }
    }

    /// Consumes the character `c` (the one [`Parser::peek`] returned).
    fn advance(&mut self, c: char) {
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
    }

    /// Consumes `src[self.pos..end]`, counting the lines it holds.
    fn advance_to(&mut self, end: usize) {
        let chunk = &self.b[self.pos..end];
        if let Some(last) = chunk.iter().rposition(|&x| x == b'\n') {
            self.line += chunk.iter().filter(|&&x| x == b'\n').count();
            self.line_start = self.pos + last + 1;
        }
        self.pos = end;
    }

    fn unexpected(&mut self, expected: &'static str) -> Box<ParseError> {
        let found = match self.peek() {
            None => "end of input".to_string(),
            Some(c) => format!("{c:?}"),
        };
        self.err(ParseErrorKind::Unexpected { found, expected })
    }

    /// Skips whitespace; stops at a comment or a token.
    #[inline(always)]
    fn skip_ws(&mut self) -> PResult<()> {
        // ASCII spaces and newlines, in locals (stores to `self` in the loop cost as much as
        // the rest of it); NUL and other bytes are left to `skip_ws_slow`.
        let mut pos = self.pos;
        while let Some(&b) = self.b.get(pos) {
            if CLASS[usize::from(b)] == SPACE {
                pos += 1;
            } else if b == b'\n' {
                pos += 1;
                self.line += 1;
                self.line_start = pos;
            } else {
                self.pos = pos;
                if b == 0 || !b.is_ascii() {
                    return self.skip_ws_slow();
                }
                return Ok(());
            }
        }
        self.pos = pos;
        Ok(())
    }

    /// [`Parser::skip_ws`] from a NUL or a non-ASCII byte on.
    #[cold]
    #[inline(never)]
    fn skip_ws_slow(&mut self) -> PResult<()> {
        while let Some(&b) = self.b.get(self.pos) {
            if CLASS[usize::from(b)] == SPACE {
                self.pos += 1;
                continue;
            }
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                0 => return Err(self.err(ParseErrorKind::Nul)),
                _ if b.is_ascii() => break,
                _ => match self.peek() {
                    Some(c) if c.is_whitespace() => self.advance(c),
                    _ => break,
                },
            }
        }
        Ok(())
    }

    /// Reads a `#` comment up to (not including) the end of the line.
    fn comment(&mut self) -> &'a str {
        let start = self.pos;
        // `str::find` looks for the byte with memchr, a word at a time.
        let end = self.src[start..]
            .find('\n')
            .map_or(self.b.len(), |n| start + n);
        self.pos = end;
        self.src[start..end].trim_end()
    }

    /// Skips whitespace and comments (inside arrays, where comments are not kept).
    #[inline(always)]
    fn skip_ws_and_comments(&mut self) -> PResult<()> {
        loop {
            self.skip_ws()?;
            if self.b.get(self.pos) == Some(&b'#') {
                self.comment();
            } else {
                return Ok(());
            }
        }
    }

    fn section_body(&mut self, depth: usize) -> PResult<Section<'a>> {
        // This section's entries are `self.entries[base..]`.
        let base = self.entries.len();
        let mut sec = Section::new();
        // Line on which the last entry of this section ended: a comment on that line trails it.
        let mut last_end_line: Option<usize> = None;
        loop {
            self.skip_ws()?;
            match self.b.get(self.pos) {
                None => {
                    if depth > 0 {
                        return Err(self.unexpected("'}'"));
                    }
                    sec.entries = take_from(&mut self.entries, base);
                    return Ok(sec);
                }
                Some(b'}') => {
                    if depth == 0 {
                        return Err(self.unexpected("a key"));
                    }
                    self.pos += 1;
                    sec.entries = take_from(&mut self.entries, base);
                    return Ok(sec);
                }
                Some(b'#') => {
                    let line = self.line;
                    let text = self.comment();
                    if self.keep_comments {
                        let n = self.entries.len() - base;
                        sec.place_comment(n, last_end_line == Some(line), text);
                    }
                }
                Some(_) => {
                    let key = self.key()?;
                    if !self.plain_equals() {
                        self.skip_ws_and_comments()?;
                        match self.b.get(self.pos) {
                            Some(b'=') => {
                                self.pos += 1;
                                self.skip_ws_and_comments()?;
                            }
                            Some(b'{') => {
                                if depth + 1 > self.limits.max_depth {
                                    return Err(self.err(ParseErrorKind::TooDeep {
                                        limit: self.limits.max_depth,
                                    }));
                                }
                                self.pos += 1;
                                let sub = self.section_body(depth + 1)?;
                                self.entries.push((key, Node::Section(sub)));
                                last_end_line = Some(self.line);
                                continue;
                            }
                            _ => return Err(self.unexpected("'=' or '{'")),
                        }
                    }
                    let v = self.value()?;
                    self.entries.push((key, Node::Value(v)));
                    last_end_line = Some(self.line);
                }
            }
        }
    }

    /// Consumes ` = ` when a value follows it directly (not a space, comment, NUL or
    /// non-ASCII character), as lvm2 writes every key: what the general path of
    /// whitespace, `=` and whitespace would consume, in one test.
    #[inline(always)]
    fn plain_equals(&mut self) -> bool {
        let plain = matches!(
            self.b.get(self.pos..self.pos + 4),
            Some(&[b' ', b'=', b' ', c]) if CLASS[usize::from(c)] != SPACE
                && c.is_ascii()
                && !matches!(c, b'\n' | b'#' | 0)
        );
        if plain {
            self.pos += 3;
        }
        plain
    }

    /// Consumes a word (key, bare string or number) and returns it; it never holds a
    /// newline, so the line stays the same.
    #[inline(always)]
    fn word(&mut self) -> &'a str {
        let start = self.pos;
        // ASCII word bytes, the common case, in a tight loop; a non-ASCII byte goes on in
        // `word_slow`. Scanned in the `str` that is then sliced: the compiler sees that the
        // word ends before an ASCII byte and drops the slice's char boundary test.
        let rest = self.src.get(start..).unwrap_or_default();
        let n = word_len(rest.as_bytes());
        self.pos = start + n;
        if rest.as_bytes().get(n).is_some_and(|b| !b.is_ascii()) {
            self.word_slow();
            return &self.src[start..self.pos];
        }
        &rest[..n]
    }

    /// [`Parser::word`] from a non-ASCII character on.
    #[cold]
    #[inline(never)]
    fn word_slow(&mut self) {
        while let Some(&b) = self.b.get(self.pos) {
            if CLASS[usize::from(b)] == WORD {
                self.pos += 1;
            } else if b.is_ascii() {
                break;
            } else {
                match self.peek() {
                    Some(c) if !ends_word(c) => self.pos += c.len_utf8(),
                    _ => break,
                }
            }
        }
    }

    #[inline(always)]
    fn key(&mut self) -> PResult<Cow<'a, str>> {
        let w = self.word();
        if w.is_empty() {
            return Err(self.unexpected("a key"));
        }
        Ok(Cow::Borrowed(w))
    }

    // The token functions are inlined into `section_body`: a token is a few bytes, so calls
    // and results passed through memory were a good part of the work.
    #[inline(always)]
    fn value(&mut self) -> PResult<Value<'a>> {
        if self.b.get(self.pos) == Some(&b'[') {
            self.pos += 1;
            return self.array();
        }
        self.scalar()
    }

    /// A value other than an array (array elements). Dispatches on the byte: every token
    /// starts with an ASCII one; a non-ASCII character can only start a bare word.
    #[inline(always)]
    fn scalar(&mut self) -> PResult<Value<'a>> {
        match self.b.get(self.pos) {
            Some(b'[') => Err(self.err(ParseErrorKind::NestedArray)),
            Some(b'"') => {
                self.pos += 1;
                self.dq_string().map(Value::Str)
            }
            Some(b'\'') => {
                self.pos += 1;
                self.sq_string().map(Value::Str)
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.') => self.number(),
            // A bare word is a string, as libdevmapper reads it.
            Some(&c) if CLASS[usize::from(c)] == WORD => self.key().map(Value::Str),
            Some(c) if !c.is_ascii() => self.non_ascii_scalar(),
            _ => Err(self.unexpected("a value")),
        }
    }

    /// [`Parser::scalar`] at a non-ASCII character: a bare word if the character continues
    /// words.
    #[cold]
    #[inline(never)]
    fn non_ascii_scalar(&mut self) -> PResult<Value<'a>> {
        match self.peek() {
            Some(c) if !ends_word(c) => self.key().map(Value::Str),
            _ => Err(self.unexpected("a value")),
        }
    }

    #[inline(always)]
    fn array(&mut self) -> PResult<Value<'a>> {
        // Arrays do not nest, but the elements are `self.items[base..]` all the same.
        let base = self.items.len();
        self.skip_ws_and_comments()?;
        if self.b.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        loop {
            if self.items.len() - base >= self.limits.max_array_len {
                return Err(self.err(ParseErrorKind::ArrayTooLong {
                    limit: self.limits.max_array_len,
                }));
            }
            let v = self.scalar()?;
            self.items.push(v);
            self.skip_ws_and_comments()?;
            match self.b.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws_and_comments()?;
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(take_from(&mut self.items, base)));
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    /// Body of a double-quoted string: `\"` and `\\` are escapes, any other backslash is literal
    /// (libdevmapper's unescaping). A string without escapes is borrowed; otherwise runs
    /// without escapes are copied in one piece.
    #[inline(always)]
    fn dq_string(&mut self) -> PResult<Cow<'a, str>> {
        // Nearly every string ends before any escape or newline: borrowed from the `str` it
        // was scanned in (the slice then needs no char boundary test). Else the loop below
        // reads it from the start.
        let rest = self.src.get(self.pos..).unwrap_or_default();
        if let Some(n) = find_dq_stop(rest.as_bytes()) {
            if rest.as_bytes().get(n) == Some(&b'"') {
                self.pos += n + 1;
                return Ok(Cow::Borrowed(&rest[..n]));
            }
        }
        self.dq_string_escaped()
    }

    /// [`Parser::dq_string`] for a string with escapes or newlines (or unterminated).
    #[inline(never)]
    fn dq_string_escaped(&mut self) -> PResult<Cow<'a, str>> {
        let mut s = String::new();
        // Start of the run since the last escape; lines are counted as the scan passes them.
        let mut start = self.pos;
        loop {
            let Some(n) = find_dq_stop(&self.b[self.pos..]) else {
                self.advance_to(self.b.len());
                return Err(self.err(ParseErrorKind::UnterminatedString));
            };
            let at = self.pos + n;
            self.pos = at + 1;
            match self.b[at] {
                b'\n' => {
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b'"' => {
                    let run = &self.src[start..at];
                    if s.is_empty() {
                        return Ok(Cow::Borrowed(run));
                    }
                    s.push_str(run);
                    return Ok(Cow::Owned(s));
                }
                0 => return Err(self.err(ParseErrorKind::Nul)),
                _ => {
                    // A backslash: escapes `"` and `\`, otherwise it is itself.
                    s.push_str(&self.src[start..at]);
                    match self.b.get(self.pos) {
                        Some(&c @ (b'"' | b'\\')) => {
                            self.pos += 1;
                            s.push(char::from(c));
                        }
                        _ => s.push('\\'),
                    }
                    start = self.pos;
                }
            }
        }
    }

    #[inline(always)]
    fn sq_string(&mut self) -> PResult<Cow<'a, str>> {
        let start = self.pos;
        let Some(n) = self.b[start..].iter().position(|&x| matches!(x, b'\'' | 0)) else {
            self.advance_to(self.b.len());
            return Err(self.err(ParseErrorKind::UnterminatedString));
        };
        let at = start + n;
        self.advance_to(at);
        self.pos = at + 1;
        if self.b[at] == 0 {
            return Err(self.err(ParseErrorKind::Nul));
        }
        Ok(Cow::Borrowed(&self.src[start..at]))
    }

    #[inline(always)]
    fn number(&mut self) -> PResult<Value<'a>> {
        // Digits then a byte that ends the word (ASCII, not a word byte) or the end: the
        // whole token, read in one pass. Up to 18 digits cannot overflow.
        let rest = self.b.get(self.pos..).unwrap_or_default();
        let (mut n, mut v) = (0, 0i64);
        while let Some(&c @ b'0'..=b'9') = rest.get(n).filter(|_| n < 18) {
            v = v * 10 + i64::from(c - b'0');
            n += 1;
        }
        if n > 0
            && rest
                .get(n)
                .is_none_or(|&c| c.is_ascii() && CLASS[usize::from(c)] != WORD)
        {
            self.pos += n;
            return Ok(Value::Int(v));
        }
        let (line, line_start, start) = (self.line, self.line_start, self.pos);
        let text = self.word();
        // Up to 18 digits cannot overflow: the common case, read in one pass.
        if (1..=18).contains(&text.len()) {
            let mut digits = true;
            let mut v = 0i64;
            for c in text.bytes() {
                digits &= c.is_ascii_digit();
                v = v
                    .wrapping_mul(10)
                    .wrapping_add(i64::from(c.wrapping_sub(b'0')));
            }
            if digits {
                return Ok(Value::Int(v));
            }
        }
        number_value(text)
            .map(Value::Int)
            .map_err(|kind| self.err_at(line, line_start, start, kind))
    }
}

/// How many bytes at the start of `b` are ASCII word bytes ([`WORD`]). Not inlined: in its
/// own function the loop keeps everything in registers (inlined into `section_body`, which
/// has many live values, it reloaded the slice each byte). Unrolled by four: one bound
/// check per four bytes.
#[inline(never)]
fn word_len(b: &[u8]) -> usize {
    let word = |c: u8| CLASS[usize::from(c)] == WORD;
    let mut n = 0;
    for c in b.chunks_exact(4) {
        if !word(c[0]) {
            return n;
        }
        if !word(c[1]) {
            return n + 1;
        }
        if !word(c[2]) {
            return n + 2;
        }
        if !word(c[3]) {
            return n + 3;
        }
        n += 4;
    }
    n + b[n..].iter().take_while(|&&c| word(c)).count()
}

/// The first `"`, `\\`, NUL or newline in `b` (what ends a run of a double-quoted string).
/// Looks at eight bytes at a time: strings are mostly ids of 38 characters.
#[inline(always)]
fn find_dq_stop(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // High bit set in the lowest byte of `x` that is zero (bytes above it may be set wrongly
    // by the borrow, so only the lowest counts).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let chunks = b.chunks_exact(8);
    let tail = chunks.remainder();
    for (i, chunk) in chunks.enumerate() {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(bytes);
        let hits = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | zero(x)
            | zero(x ^ (ONES * u64::from(b'\n')));
        if hits != 0 {
            return Some(i * 8 + (hits.trailing_zeros() / 8) as usize);
        }
    }
    tail.iter()
        .position(|&x| matches!(x, b'"' | b'\\' | 0 | b'\n'))
        .map(|n| b.len() - tail.len() + n)
}

/// Moves `v[base..]` into a Vec of its exact size, in one copy (a `drain(..).collect()` moves
/// element by element). `split_off(0)` would hand over the whole buffer instead, leaving `v`
/// to grow again.
fn take_from<T>(v: &mut Vec<T>, base: usize) -> Vec<T> {
    if base == 0 {
        let mut out = Vec::with_capacity(v.len());
        out.append(v);
        out
    } else {
        v.split_off(base)
    }
}

/// A number token's value, or why it has none: lvm2 refuses floats, and anything else that is
/// not a decimal integer in range.
pub(crate) fn number_value(text: &str) -> Result<i64, ParseErrorKind> {
    let bad = || ParseErrorKind::BadNumber {
        text: text.to_string(),
    };
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        if digits.contains('.') {
            return Err(ParseErrorKind::Float {
                text: text.to_string(),
            });
        }
        return text.parse::<i64>().map_err(|_| bad());
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::parse as parse_ref;
    use proptest::prelude::*;

    /// What number tokens mean (both parsers share it, so it is pinned here).
    #[test]
    fn number_tokens() {
        use ParseErrorKind::{BadNumber, Float};
        let bad = |t: &str| Err(BadNumber { text: t.into() });
        for (t, want) in [
            ("12", Ok(12)),
            ("-7", Ok(-7)),
            ("+3", Ok(3)),
            ("007", Ok(7)),
            ("9223372036854775807", Ok(i64::MAX)),
            ("-9223372036854775808", Ok(i64::MIN)),
            ("9223372036854775808", bad("9223372036854775808")),
            ("1.5", Err(Float { text: "1.5".into() })),
            ("-.", Err(Float { text: "-.".into() })),
            ("-", bad("-")),
            ("+-1", bad("+-1")),
            ("1e3", bad("1e3")),
            ("0x10", bad("0x10")),
        ] {
            assert_eq!(number_value(t), want, "{t}");
        }
    }

    /// Numbers around the one-pass fast path's limits (18 digits, a word byte or a
    /// non-ASCII character after the digits) read as the reference reads them.
    #[test]
    fn numbers_at_the_fast_path_limits() {
        for v in [
            "0",
            "007",
            "123456789012345678",
            "999999999999999999",
            "1234567890123456789",
            "9223372036854775807",
            "9223372036854775808",
            "12x",
            "12.5",
            "12é",
            "12\u{a0}",
            "-12",
            "+12",
            "12#c",
            "12]",
        ] {
            for doc in [
                format!("k = {v}\n"),
                format!("k = [{v}, 1]\n"),
                format!("k = {v}"),
            ] {
                same(&doc, &ParseLimits::default()).unwrap();
            }
        }
    }

    /// Both parsers on `s`: same tree, or the same error (kind, line, column, message); the
    /// borrowed tree and its owned copy are equal too.
    fn same(s: &str, limits: &ParseLimits) -> Result<(), TestCaseError> {
        let ours = parse_with_limits(s, limits);
        prop_assert_eq!(
            &ours,
            &parse_ref::parse_with_limits(s, limits),
            "input {:?}",
            s
        );
        if let Ok(tree) = &ours {
            prop_assert_eq!(&tree.clone().into_owned(), tree, "input {:?}", s);
        }
        // Settings: the same tree without its comments, or the same error.
        if *limits == ParseLimits::default() {
            prop_assert_eq!(
                parse_settings(s),
                ours.map(without_comments),
                "input {:?}",
                s
            );
        }
        Ok(())
    }

    fn without_comments(mut sec: Section<'_>) -> Section<'_> {
        sec.comments.clear();
        for (_, node) in &mut sec.entries {
            if let Node::Section(sub) = node {
                *sub = without_comments(std::mem::take(sub));
            }
        }
        sec
    }

    const MDA: &str = include_str!("../tests/data/raid_mirror.mda");
    const BACKUP: &str = include_str!("../tests/data/linear_striped.backup");

    /// Characters that exercise every class the parser distinguishes: tokens, ASCII and
    /// Unicode whitespace, control characters, escapes, NUL, multi-byte letters.
    fn tricky() -> impl Strategy<Value = char> {
        prop_oneof![
            proptest::sample::select(vec![
                '=', '{', '}', '[', ']', ',', '"', '\'', '#', '\\', '\n', '\r', '\t', ' ', '\u{b}',
                '\u{c}', '\u{1c}', '\0', '\u{7f}', '+', '-', '.', '0', '7', 'a', 'z', '\u{85}',
                '\u{a0}', '\u{2028}', '\u{3000}', '\u{9f}', 'é', '€', '𝄞',
            ]),
            any::<char>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn same_as_reference_on_tricky_text(cs in proptest::collection::vec(tricky(), 0..120)) {
            let s: String = cs.into_iter().collect();
            same(&s, &ParseLimits::default())?;
        }

        #[test]
        fn same_as_reference_on_grammar_like_text(s in "([a-z0-9_]{1,6}|[ \t\n]|=|\\{|\\}|\\[|\\]|,|\"[a-z \\\\\"\n]{0,6}\"?|'[a-z\n]{0,4}'?|#[a-z ]{0,5}\n|-?[0-9.]{1,4}|é|\u{a0}){0,40}") {
            same(&s, &ParseLimits::default())?;
            same(&s, &ParseLimits { max_bytes: 100, max_depth: 2, max_array_len: 2 })?;
        }

        /// Real lvm2 text with one splice of tricky characters anywhere: trees or errors agree.
        #[test]
        fn same_as_reference_on_mutated_metadata(which in any::<bool>(), at in 0usize..100_000, cut in 0usize..8,
                                                  ins in proptest::collection::vec(tricky(), 0..4)) {
            let doc = if which { MDA } else { BACKUP };
            let mut at = at % (doc.len() + 1);
            while !doc.is_char_boundary(at) { at -= 1; }
            let mut end = (at + cut).min(doc.len());
            while !doc.is_char_boundary(end) { end -= 1; }
            let ins: String = ins.into_iter().collect();
            let s = format!("{}{}{}", &doc[..at], ins, &doc[end..]);
            same(&s, &ParseLimits::default())?;
        }
    }

    proptest! {
        /// The eight-bytes-at-a-time search finds what a byte-by-byte one finds, wherever the
        /// stop byte falls in or after a word.
        #[test]
        fn dq_stop_is_the_first_stop_byte(b in proptest::collection::vec(prop_oneof![
            // Mostly bytes that do not stop, so that stops fall in every chunk.
            12 => proptest::sample::select(vec![b'a', b'-', 0x01, 0x21, 0x5b, 0x5d, 0x0b, 0x80, 0xff]),
            1 => proptest::sample::select(vec![b'"', b'\\', 0, b'\n']),
        ], 0..40)) {
            let naive = b.iter().position(|&x| matches!(x, b'"' | b'\\' | 0 | b'\n'));
            prop_assert_eq!(find_dq_stop(&b), naive);
        }
    }

    proptest! {
        /// The unrolled word scan counts what a byte-by-byte one counts.
        #[test]
        fn word_len_is_the_byte_scan(b in proptest::collection::vec(prop_oneof![
            8 => proptest::sample::select(b"az_09".to_vec()),
            1 => proptest::sample::select(vec![b' ', b'=', b'"', b'\n', 0, 0x7f, 0x80, 0xe9]),
        ], 0..24)) {
            let bytewise = b.iter().take_while(|&&c| CLASS[usize::from(c)] == WORD).count();
            prop_assert_eq!(word_len(&b), bytewise);
        }
    }

    #[test]
    fn byte_classes_are_the_char_classes() {
        for b in 0u8..128 {
            let c = char::from(b);
            assert_eq!(CLASS[usize::from(b)] == WORD, !ends_word(c), "{c:?}");
            assert_eq!(
                CLASS[usize::from(b)] == SPACE,
                c.is_whitespace() && c != '\n',
                "{c:?}"
            );
        }
        assert!(CLASS[128..].iter().all(|&x| x == 0));
    }

    /// Keys, comments and strings without escapes point into the text; only strings with
    /// escapes are copies.
    #[test]
    fn borrows_all_but_escaped_strings() {
        let text = "k = \"plain\" # note\ns { e = \"a\\\"b\" q = 'x' w = bare a = [\"y\"] }\n";
        let doc = parse(text).unwrap();
        let inside = |s: &str| text.as_bytes().as_ptr_range().contains(&s.as_ptr());
        let borrowed = |c: &Cow<str>| matches!(c, Cow::Borrowed(s) if inside(s));
        assert!(doc.entries.iter().all(|(k, _)| borrowed(k)));
        assert!(borrowed(&doc.comments[0].text));
        let Node::Value(Value::Str(plain)) = &doc.entries[0].1 else {
            panic!("{doc:?}")
        };
        assert!(borrowed(plain));
        let s = doc.get_section("s").unwrap();
        assert!(s.entries.iter().all(|(k, _)| borrowed(k)));
        let strs: Vec<&Cow<str>> = s
            .entries
            .iter()
            .flat_map(|(_, n)| match n {
                Node::Value(Value::Str(v)) => vec![v],
                Node::Value(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(v) => Some(v),
                        _ => None,
                    })
                    .collect(),
                _ => vec![],
            })
            .collect();
        assert_eq!(strs, ["a\"b", "x", "bare", "y"]);
        assert!(matches!(strs[0], Cow::Owned(_)));
        assert!(strs[1..].iter().all(|c| borrowed(c)));
    }

    #[test]
    fn same_as_reference_on_lvm2_text_and_its_truncations() {
        for doc in [MDA, BACKUP] {
            assert!(parse(doc).is_ok());
            for cut in (0..doc.len()).filter(|&c| doc.is_char_boundary(c)) {
                same(&doc[..cut], &ParseLimits::default()).unwrap();
            }
        }
    }
}
