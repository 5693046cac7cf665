//! Bencode values (BEP 3), decoded with `bendy` under limits that hostile input cannot get
//! past: canonical form only (sorted keys, no leading zeros), bounded nesting, bounded size,
//! nothing after the end. Pure: bytes in, values out, no I/O.

use std::collections::BTreeMap;
use std::fmt;

use bendy::decoding::{Decoder, Object};
use bendy::encoding::{Encoder, SingleItemEncoder};

/// How deep lists and dictionaries may nest. Real torrents and tracker answers need 4 or 5.
pub const MAX_DEPTH: usize = 32;

/// The largest bencoded document accepted (a .torrent file or a tracker answer).
pub const MAX_DOCUMENT: usize = 64 * 1024 * 1024;

/// The most memory the values decoded from one document may take, as estimated while they
/// are decoded (bytes, the slot of each value, the nodes of each dictionary). Decoded values
/// take many times their bencoded size (a dictionary `d1:adee` of 7 bytes takes a tree node of
/// several hundred), so without this a hostile 64 MiB document could make gigabytes of them.
/// 256 MiB holds a torrent of over 200,000 files. Parsing a .torrent then copies its paths
/// (twice while they are checked), so its peak is a small multiple of this: 200,000 files of
/// three-part paths, accepted, peaked at 305 MB; the 64 MiB hostile document of 2.3 million
/// tiny files, refused, at 284 MB.
pub const MAX_DECODED: usize = 256 * 1024 * 1024;

/// What decoding may still allocate (see [`MAX_DECODED`]).
struct Budget {
    left: usize,
}

impl Budget {
    fn new(limit: usize) -> Budget {
        Budget { left: limit }
    }

    fn charge(&mut self, bytes: usize) -> Result<(), BencodeError> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(err(format!(
                "decoded, it would take more than {} MiB of memory",
                MAX_DECODED >> 20
            ))),
        }
    }
}

/// The estimated cost of one value's slot, and of one dictionary entry's (key and value).
const VALUE_SLOT: usize = std::mem::size_of::<Value>();
const ENTRY_SLOT: usize = std::mem::size_of::<Vec<u8>>() + VALUE_SLOT;
/// A dictionary with entries holds at least one tree node of 11 entries.
const DICT_NODE: usize = 12 * ENTRY_SLOT;

/// A decoded dictionary: keys in byte order.
pub type Dict = BTreeMap<Vec<u8>, Value>;

/// A decoded bencode value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i...e`
    Int(i64),
    /// `<len>:<bytes>`
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Value>),
    /// `d...e`, keys in byte order.
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Bencode that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BencodeError {
    /// What was wrong, in words.
    pub reason: String,
}

impl fmt::Display for BencodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad bencode: {}", self.reason)
    }
}

impl std::error::Error for BencodeError {}

fn err(reason: impl Into<String>) -> BencodeError {
    BencodeError {
        reason: reason.into(),
    }
}

impl From<bendy::decoding::Error> for BencodeError {
    fn from(e: bendy::decoding::Error) -> Self {
        err(plain_words(&e.to_string()))
    }
}

/// `bendy`'s description of a structure error, without its wrapping and in our words
/// ("bencode encoding corrupted (Malformed number of unexpected character: Invalid token
/// starting with 'h' at offset 0)" becomes "unexpected 'h' at offset 0"); text it does not
/// know is kept as it is.
fn plain_words(text: &str) -> String {
    let inner = text
        .strip_prefix("bencode encoding corrupted (")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or(text);
    let inner = inner
        .strip_prefix("Malformed number of unexpected character: ")
        .unwrap_or(inner);
    let known: [(&str, &str); 7] = [
        ("Saw the wrong type of token: ", "wrong token: "),
        ("Invalid token starting with ", "unexpected "),
        ("Invalid integer at offset", "a malformed integer at offset"),
        ("Expected ", "expected "),
        ("Keys were not sorted", "dictionary keys out of order"),
        (
            "Reached EOF in the middle of a message",
            "it ends in the middle of a value",
        ),
        ("Maximum nesting depth exceeded", "nested too deep"),
    ];
    for (theirs, ours) in known {
        if let Some(rest) = inner.strip_prefix(theirs) {
            return format!("{ours}{rest}");
        }
    }
    inner.to_string()
}

/// Decodes one complete bencoded value; anything after it is an error.
pub fn decode(bytes: &[u8]) -> Result<Value, BencodeError> {
    decode_within(bytes, &mut Budget::new(MAX_DECODED))
}

fn decode_within(bytes: &[u8], budget: &mut Budget) -> Result<Value, BencodeError> {
    if bytes.len() > MAX_DOCUMENT {
        return Err(err(format!(
            "{} bytes is more than the {MAX_DOCUMENT} accepted",
            bytes.len()
        )));
    }
    let mut decoder = Decoder::new(bytes).with_max_depth(MAX_DEPTH);
    let value = match decoder.next_object()? {
        Some(obj) => from_object(obj, budget)?,
        None => return Err(err("empty input")),
    };
    if decoder.next_object()?.is_some() {
        return Err(err("data after the end of the value"));
    }
    Ok(value)
}

/// Decodes a top-level dictionary, also returning the raw bytes of the value under `raw_key`
/// exactly as they appear in the input (for a torrent's info dictionary, whose SHA-1 is the
/// info-hash).
pub fn decode_dict_keeping_raw<'a>(
    bytes: &'a [u8],
    raw_key: &[u8],
) -> Result<(Dict, Option<&'a [u8]>), BencodeError> {
    decode_dict_keeping_raw_within(bytes, raw_key, &mut Budget::new(MAX_DECODED))
}

fn decode_dict_keeping_raw_within<'a>(
    bytes: &'a [u8],
    raw_key: &[u8],
    budget: &mut Budget,
) -> Result<(Dict, Option<&'a [u8]>), BencodeError> {
    if bytes.len() > MAX_DOCUMENT {
        return Err(err(format!(
            "{} bytes is more than the {MAX_DOCUMENT} accepted",
            bytes.len()
        )));
    }
    let mut decoder = Decoder::new(bytes).with_max_depth(MAX_DEPTH);
    let mut map = BTreeMap::new();
    let mut raw = None;
    match decoder.next_object()? {
        Some(Object::Dict(mut d)) => {
            while let Some((k, v)) = d.next_pair()? {
                budget.charge(2 * ENTRY_SLOT + k.len())?;
                if k == raw_key {
                    let slice = match v {
                        Object::Dict(inner) => inner.into_raw()?,
                        Object::List(inner) => inner.into_raw()?,
                        other => {
                            let value = from_object(other, budget)?;
                            map.insert(k.to_vec(), value);
                            continue;
                        }
                    };
                    raw = Some(slice);
                    map.insert(k.to_vec(), decode_within(slice, budget)?);
                } else {
                    map.insert(k.to_vec(), from_object(v, budget)?);
                }
            }
        }
        Some(_) => return Err(err("the top level is not a dictionary")),
        None => return Err(err("empty input")),
    }
    if decoder.next_object()?.is_some() {
        return Err(err("data after the end of the dictionary"));
    }
    Ok((map, raw))
}

/// The value `obj`, charging `budget` for what it allocates: a byte string its bytes, a list
/// two slots per item (the vector grows by doubling), a dictionary a tree node and two entry
/// slots per entry (nodes are about half full), and the value in its own slot.
fn from_object(obj: Object<'_, '_>, budget: &mut Budget) -> Result<Value, BencodeError> {
    budget.charge(VALUE_SLOT)?;
    Ok(match obj {
        Object::Integer(text) => Value::Int(
            text.parse::<i64>()
                .map_err(|_| err(format!("integer {text} does not fit in 64 bits")))?,
        ),
        Object::Bytes(b) => {
            budget.charge(b.len())?;
            Value::Bytes(b.to_vec())
        }
        Object::List(mut l) => {
            let mut items = Vec::new();
            while let Some(item) = l.next_object()? {
                budget.charge(VALUE_SLOT)?;
                items.push(from_object(item, budget)?);
            }
            Value::List(items)
        }
        Object::Dict(mut d) => {
            let mut map = BTreeMap::new();
            while let Some((k, v)) = d.next_pair()? {
                if map.is_empty() {
                    budget.charge(DICT_NODE)?;
                }
                budget.charge(2 * ENTRY_SLOT + k.len())?;
                map.insert(k.to_vec(), from_object(v, budget)?);
            }
            Value::Dict(map)
        }
    })
}

/// Encodes a value canonically (keys in byte order).
pub fn encode(value: &Value) -> Vec<u8> {
    // Any value made in code encodes (only decoding has a depth limit); one nested many
    // thousands deep would overflow the stack here, as it would when dropped.
    let mut e = Encoder::new().with_max_depth(usize::MAX);
    e.emit_with(|item| emit(item, value))
        .expect("a Value is always encodable");
    e.get_output().expect("a Value is always encodable")
}

fn emit(item: SingleItemEncoder<'_>, value: &Value) -> Result<(), bendy::encoding::Error> {
    match value {
        Value::Int(i) => item.emit_int(*i),
        Value::Bytes(b) => item.emit_bytes(b),
        Value::List(l) => item.emit_list(|e| {
            for v in l {
                e.emit_with(|i| emit(i, v))?;
            }
            Ok(())
        }),
        Value::Dict(d) => item.emit_dict(|mut e| {
            for (k, v) in d {
                e.emit_pair_with(k, |i| emit(i, v))?;
            }
            Ok(())
        }),
    }
}

impl Value {
    /// The dictionary entry `key`, if this is a dictionary that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    /// The text, if this is a byte string holding UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// The entries, if this is a dictionary.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
    /// A byte-string value.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(b.into())
    }
    /// A dictionary from (key, value) pairs.
    pub fn dict<K: Into<Vec<u8>>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Dict(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_for_canonical_input() {
        let input = b"d3:cow3:moo4:spaml1:a1:bi-3eee";
        let v = decode(input).unwrap();
        assert_eq!(encode(&v), input);
        assert_eq!(v.get("cow").unwrap().as_str(), Some("moo"));
    }

    #[test]
    fn non_canonical_and_truncated_input_is_refused() {
        for bad in [
            &b"d4:spam1:a3:cow3:mooe"[..], // keys out of order
            b"d3:cow3:moo3:cow3:mooe",     // duplicate key
            b"i03e",                       // leading zero
            b"i-0e",                       // negative zero
            b"d3:cow3:mo",                 // truncated
            b"5:abc",                      // string longer than the input
            b"i1ei2e",                     // data after the end
            b"",                           // nothing at all
            b"i99999999999999999999e",     // does not fit in 64 bits
        ] {
            assert!(
                decode(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn errors_are_said_plainly_with_the_offset() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"hello, this is text",
                "bad bencode: unexpected 'h' at offset 0",
            ),
            (
                b"d4:spam1:a3:cow3:mooe",
                "bad bencode: dictionary keys out of order",
            ),
            (
                b"d3:cow3:mo",
                "bad bencode: it ends in the middle of a value",
            ),
            (
                b"li1ei2x",
                "bad bencode: expected 'e' or '0'..'9', got 'x' at offset 6",
            ),
        ];
        for (input, want) in cases {
            let got = decode(input).unwrap_err().to_string();
            assert!(got.starts_with(want), "{got:?} for {input:?}");
            assert!(!got.contains("bencode encoding corrupted"), "{got:?}");
        }
    }

    #[test]
    fn memory_bombs_are_refused_within_the_budget() {
        // Many small dictionaries (a tree node each), many empty lists, one long string:
        // each refused once its estimate passes the budget, and accepted under a larger one.
        let mut dicts = b"l".to_vec();
        dicts.extend_from_slice(&b"d1:adee".repeat(10_000));
        dicts.push(b'e');
        let mut lists = b"l".to_vec();
        lists.extend_from_slice(&b"le".repeat(100_000));
        lists.push(b'e');
        let long = [b"100000:".as_slice(), &[b'x'; 100_000]].concat();
        for (bomb, cost) in [
            (&dicts, 10_000 * (DICT_NODE + VALUE_SLOT)),
            (&lists, 100_000 * 2 * VALUE_SLOT),
            (&long, 100_000),
        ] {
            let e = decode_within(bomb, &mut Budget::new(cost / 2)).unwrap_err();
            assert!(e.reason.contains("MiB of memory"), "{e}");
            assert!(decode_within(bomb, &mut Budget::new(4 * cost)).is_ok());
        }
        // The same for the top-level dictionary and the raw-kept one: one budget for both.
        let mut doc = b"d1:a".to_vec();
        doc.extend_from_slice(&lists);
        doc.extend_from_slice(b"4:info");
        doc.extend_from_slice(&lists);
        doc.push(b'e');
        let one = 100_000 * 2 * VALUE_SLOT;
        let e = decode_dict_keeping_raw_within(&doc, b"info", &mut Budget::new(one + one / 2));
        assert!(e.unwrap_err().reason.contains("MiB of memory"));
        assert!(decode_dict_keeping_raw_within(&doc, b"info", &mut Budget::new(3 * one)).is_ok());
    }

    #[test]
    fn a_value_deeper_than_decoding_allows_still_encodes() {
        let mut v = Value::Int(1);
        for _ in 0..(MAX_DEPTH + 8) {
            v = Value::List(vec![v]);
        }
        let bytes = encode(&v);
        assert_eq!(bytes.len(), 2 * (MAX_DEPTH + 8) + 3);
        assert!(
            decode(&bytes).is_err(),
            "deeper than MAX_DEPTH: refused when decoded"
        );
    }

    #[test]
    fn nesting_bombs_are_refused() {
        let mut bomb = vec![b'l'; 100_000];
        bomb.extend(vec![b'e'; 100_000]);
        let e = decode(&bomb).unwrap_err();
        assert!(!e.reason.is_empty());
    }

    #[test]
    fn raw_bytes_of_a_key_are_kept_exactly() {
        let input = b"d4:infod4:name1:xe3:zzzi1ee";
        let (map, raw) = decode_dict_keeping_raw(input, b"info").unwrap();
        assert_eq!(raw.unwrap(), b"d4:name1:xe");
        assert_eq!(map[&b"zzz"[..]], Value::Int(1));
    }
}
