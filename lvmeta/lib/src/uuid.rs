//! LVM2 identifiers: 32 characters from lvm's 64-character alphabet, shown with dashes
//! in 6-4-4-4-4-4-6 groups.

use rand::Rng;

const ALPHABET: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#";

/// A new random id as lvm writes it in metadata (with dashes).
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    let raw: String = (0..32)
        // lvm2 generates from the first 62 characters only ("!" and "#" are accepted, never made).
        .map(|_| ALPHABET[rng.gen_range(0..62)] as char)
        .collect();
    with_dashes(&raw)
}

/// `abcdef...` (32 chars) -> `abcdef-ghij-...`; other input is returned unchanged.
pub fn with_dashes(raw: &str) -> String {
    if raw.len() != 32 || !raw.is_ascii() {
        return raw.to_string();
    }
    let groups = [6, 4, 4, 4, 4, 4, 6];
    let mut out = String::with_capacity(38);
    let mut at = 0;
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&raw[at..at + g]);
        at += g;
    }
    out
}

/// Removes dashes; checks length and alphabet.
pub fn without_dashes(s: &str) -> Option<String> {
    let raw: String = s.chars().filter(|c| *c != '-').collect();
    (raw.len() == 32 && raw.bytes().all(|b| ALPHABET.contains(&b))).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let id = generate();
        assert_eq!(id.len(), 38);
        let raw = without_dashes(&id).unwrap();
        assert_eq!(with_dashes(&raw), id);
        assert!(without_dashes("short").is_none());
    }
}
