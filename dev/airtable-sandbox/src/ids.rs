//! Airtable-shaped identifiers: a 3-letter prefix plus 14 alphanumerics (17 characters), because
//! clients such as pyairtable validate ids by length and prefix.

use rand::Rng;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh random id such as `recA1b2C3d4E5f6G7`.
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 14);
    id.push_str(prefix);
    for _ in 0..14 {
        let i = rng.random_range(0..ALPHABET.len());
        id.push(char::from(ALPHABET[i]));
    }
    id
}

/// Whether `s` looks like an id with this prefix; used to tell ids from names in URLs.
pub fn is_id(prefix: &str, s: &str) -> bool {
    s.len() == prefix.len() + 14
        && s.starts_with(prefix)
        && s[prefix.len()..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let id = new_id("rec");
        assert_eq!(id.len(), 17);
        assert!(is_id("rec", &id));
        assert!(!is_id("tbl", &id));
        assert!(!is_id("rec", "recShort"));
    }
}
