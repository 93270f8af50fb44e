//! The original char-by-char parser, kept as the reference semantics the byte parser in
//! `parse.rs` is property-tested against (trees and errors, line and column included). It builds
//! owned trees; `Cow` compares by content, so they equal the borrowed trees of `parse.rs`.

use crate::parse::{ParseError, ParseErrorKind, ParseLimits};
use crate::tree::{ends_word, Node, Section, Value};

pub fn parse_with_limits(text: &str, limits: &ParseLimits) -> Result<Section<'static>, ParseError> {
    let mut p = Parser {
        chars: text.char_indices().peekable(),
        src: text,
        line: 1,
        column: 1,
        limits,
    };
    if text.len() > limits.max_bytes {
        return Err(p.err(ParseErrorKind::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        }));
    }
    p.section_body(0)
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    src: &'a str,
    line: usize,
    column: usize,
    limits: &'a ParseLimits,
}

impl<'a> Parser<'a> {
    fn err(&self, kind: ParseErrorKind) -> ParseError {
        ParseError {
            line: self.line,
            column: self.column,
            message: kind.to_string(),
            kind,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    fn pos(&mut self) -> usize {
        self.chars.peek().map_or(self.src.len(), |&(i, _)| i)
    }

    fn bump(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn unexpected(&mut self, expected: &'static str) -> ParseError {
        let found = match self.peek() {
            None => "end of input".to_string(),
            Some(c) => format!("{c:?}"),
        };
        self.err(ParseErrorKind::Unexpected { found, expected })
    }

    /// Skips whitespace; stops at a comment or a token.
    fn skip_ws(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek() {
            if c == '\0' {
                return Err(self.err(ParseErrorKind::Nul));
            }
            if !c.is_whitespace() {
                break;
            }
            self.bump();
        }
        Ok(())
    }

    /// Reads a `#` comment up to (not including) the end of the line.
    fn comment(&mut self) -> String {
        let start = self.pos();
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.bump();
        }
        let end = self.pos();
        self.src[start..end].trim_end().to_string()
    }

    /// Skips whitespace and comments (inside arrays, where comments are not kept).
    fn skip_ws_and_comments(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_ws()?;
            if self.peek() == Some('#') {
                self.comment();
            } else {
                return Ok(());
            }
        }
    }

    fn section_body(&mut self, depth: usize) -> Result<Section<'static>, ParseError> {
        let mut sec = Section::new();
        // Line on which the last entry of this section ended: a comment on that line trails it.
        let mut last_end_line: Option<usize> = None;
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => {
                    if depth > 0 {
                        return Err(self.unexpected("'}'"));
                    }
                    return Ok(sec);
                }
                Some('}') => {
                    if depth == 0 {
                        return Err(self.unexpected("a key"));
                    }
                    self.bump();
                    return Ok(sec);
                }
                Some('#') => {
                    let line = self.line;
                    let text = self.comment();
                    sec.place_comment(sec.entries.len(), last_end_line == Some(line), text);
                }
                Some(_) => {
                    let key = self.key()?;
                    self.skip_ws_and_comments()?;
                    match self.peek() {
                        Some('=') => {
                            self.bump();
                            self.skip_ws_and_comments()?;
                            let v = self.value(true)?;
                            sec.entries.push((key.into(), Node::Value(v)));
                        }
                        Some('{') => {
                            if depth + 1 > self.limits.max_depth {
                                return Err(self.err(ParseErrorKind::TooDeep {
                                    limit: self.limits.max_depth,
                                }));
                            }
                            self.bump();
                            let sub = self.section_body(depth + 1)?;
                            sec.entries.push((key.into(), Node::Section(sub)));
                        }
                        _ => return Err(self.unexpected("'=' or '{'")),
                    }
                    last_end_line = Some(self.line);
                }
            }
        }
    }

    /// Up to the next whitespace, control or reserved character.
    fn word(&mut self) -> &str {
        let start = self.pos();
        while let Some(c) = self.peek() {
            if ends_word(c) {
                break;
            }
            self.bump();
        }
        &self.src[start..self.pos()]
    }

    fn key(&mut self) -> Result<String, ParseError> {
        match self.word() {
            "" => Err(self.unexpected("a key")),
            k => Ok(k.to_string()),
        }
    }

    fn value(&mut self, array_allowed: bool) -> Result<Value<'static>, ParseError> {
        match self.peek() {
            Some('[') => {
                if !array_allowed {
                    return Err(self.err(ParseErrorKind::NestedArray));
                }
                self.bump();
                self.array()
            }
            Some('"') => {
                self.bump();
                self.dq_string().map(Value::from)
            }
            Some('\'') => {
                self.bump();
                self.sq_string().map(Value::from)
            }
            Some(c) if c.is_ascii_digit() || c == '+' || c == '-' || c == '.' => self.number(),
            Some(c) if !ends_word(c) => {
                // A bare word is a string, as libdevmapper reads it.
                self.key().map(Value::from)
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    fn array(&mut self) -> Result<Value<'static>, ParseError> {
        let mut items = Vec::new();
        self.skip_ws_and_comments()?;
        if self.peek() == Some(']') {
            self.bump();
            return Ok(Value::Array(items));
        }
        loop {
            if items.len() >= self.limits.max_array_len {
                return Err(self.err(ParseErrorKind::ArrayTooLong {
                    limit: self.limits.max_array_len,
                }));
            }
            items.push(self.value(false)?);
            self.skip_ws_and_comments()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                    self.skip_ws_and_comments()?;
                }
                Some(']') => {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    /// Body of a double-quoted string: `\"` and `\\` are escapes, any other backslash is literal
    /// (libdevmapper's unescaping).
    fn dq_string(&mut self) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err(ParseErrorKind::UnterminatedString)),
                Some('\0') => return Err(self.err(ParseErrorKind::Nul)),
                Some('"') => return Ok(s),
                Some('\\') => match self.peek() {
                    Some(c @ ('"' | '\\')) => {
                        self.bump();
                        s.push(c);
                    }
                    _ => s.push('\\'),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn sq_string(&mut self) -> Result<String, ParseError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err(ParseErrorKind::UnterminatedString)),
                Some('\0') => return Err(self.err(ParseErrorKind::Nul)),
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn number(&mut self) -> Result<Value<'static>, ParseError> {
        let (line, column) = (self.line, self.column);
        // What a number token means is shared; the reference checks how tokens are found.
        crate::parse::number_value(self.word())
            .map(Value::Int)
            .map_err(|kind| ParseError {
                line,
                column,
                message: kind.to_string(),
                kind,
            })
    }
}
