//! JSON read as Go's `encoding/json` reads it into a struct, for the fixture files upstream's
//! qdisc and wifi collectors take in place of netlink (`--collector.qdisc.fixtures`,
//! `--collector.wifi.fixtures`).
//!
//! What carries over from Go: object keys match struct fields without regard to ASCII case,
//! and a later key wins; unknown keys are skipped; `null` leaves a field as it was (an array
//! element that is `null` is the zero struct, or an error where Go's slice holds pointers that
//! upstream would dereference); integers must be integers in the field's range; `[]byte` fields
//! are base64 (padded, line breaks ignored); anything else, or trailing text after the value,
//! is an error. Arrays are walked element by element ([`for_each`]), and
//! strings without escapes are borrowed, so reading a fixture allocates little.

use super::ParseError;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A struct as Go unmarshals it: fields set from the keys that name them.
pub trait GoStruct<'de>: Default {
    /// Whether a `null` array element reads as the zero struct (Go's `[]T`). False for the
    /// elements of a Go `[]*T`, which are nil pointers that upstream then dereferences (and
    /// panics): the read fails instead.
    const NULLABLE: bool = true;

    /// Reads the value of `key` into its field if `key` names one (ASCII-case-insensitively),
    /// returning whether it did; the value is then consumed.
    ///
    /// # Errors
    /// The value's deserialization error.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// Reads `map`'s value into `slot` unless it is `null`.
///
/// # Errors
/// The value's deserialization error.
pub fn set<'de, T: de::Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut T,
    map: &mut A,
) -> Result<(), A::Error> {
    if let Some(v) = map.next_value::<Option<T>>()? {
        *slot = v;
    }
    Ok(())
}

/// An element: a Go struct read from an object, or the zero struct from `null`.
#[derive(Debug)]
pub struct Elem<T>(pub T);

impl<'de, T: GoStruct<'de>> de::Deserialize<'de> for Elem<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: GoStruct<'de>> Visitor<'de> for V<T> {
            type Value = Elem<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Elem<T>, E> {
                match T::NULLABLE {
                    true => Ok(Elem(T::default())),
                    false => Err(E::custom("null element")),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Elem<T>, A::Error> {
                let mut v = T::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    if !v.field(&key, &mut map)? {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Elem(v))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A string, borrowed from the input when it has no escapes.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Str<'de>(pub Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A Go `[]byte`: base64 text, decoded.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Bytes(pub SmallVec<[u8; 16]>);

impl<'de> de::Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Str(s) = Str::deserialize(d)?;
        base64(s.as_bytes()).map(Bytes).ok_or_else(|| de::Error::custom("invalid base64"))
    }
}

/// Decodes standard padded base64, skipping `\r` and `\n` as Go's `base64.StdEncoding` does.
fn base64(s: &[u8]) -> Option<SmallVec<[u8; 16]>> {
    let sextet = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = SmallVec::new();
    let mut quad = [0u8; 4];
    let mut n = 0;
    let mut ended = false;
    for &c in s.iter().filter(|&&c| c != b'\r' && c != b'\n') {
        if ended {
            return None;
        }
        quad[n] = c;
        n += 1;
        if n < 4 {
            continue;
        }
        n = 0;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut v = 0u32;
        for &c in &quad[..4 - pad] {
            v = v << 6 | u32::from(sextet(c)?);
        }
        v <<= 6 * pad;
        let bytes = v.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
        ended = pad > 0;
    }
    (n == 0).then_some(out)
}

/// Calls `f` with each element of the JSON array in `src`, in order (none for `null`).
///
/// # Errors
/// [`JsonError::Json`] when `src` is not such an array of `T`, [`JsonError::Stop`] with the
/// first error `f` returns; elements after it are not read.
pub fn for_each<'de, T: GoStruct<'de>, E>(
    src: &'de [u8],
    f: impl FnMut(T) -> Result<(), E>,
) -> Result<(), JsonError<E>> {
    let mut stopped = None;
    let mut de = serde_json::Deserializer::from_slice(src);
    let r = Seed { f, stopped: &mut stopped, _t: PhantomData }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match (r, stopped) {
        (_, Some(e)) => Err(JsonError::Stop(e)),
        (Err(e), None) => Err(JsonError::Json(parse_error(&e))),
        (Ok(()), None) => Ok(()),
    }
}

/// [`for_each`]'s walk over the array.
struct Seed<'s, F, T, E> {
    f: F,
    stopped: &'s mut Option<E>,
    _t: PhantomData<T>,
}
impl<'de, F: FnMut(T) -> Result<(), E>, T: GoStruct<'de>, E> DeserializeSeed<'de>
    for Seed<'_, F, T, E>
{
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}
impl<'de, F: FnMut(T) -> Result<(), E>, T: GoStruct<'de>, E> Visitor<'de> for Seed<'_, F, T, E> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array or null")
    }
    fn visit_unit<Er: de::Error>(self) -> Result<(), Er> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(Elem(v)) = seq.next_element::<Elem<T>>()? {
            if let Err(e) = (self.f)(v) {
                *self.stopped = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// Reads the JSON object in `src` as a `T` (the zero `T` for `null`), as Go unmarshals into
/// a struct value.
///
/// # Errors
/// When `src` is not such an object.
pub fn parse_one<'de, T: GoStruct<'de>>(src: &'de [u8]) -> Result<T, ParseError> {
    struct Value<T>(T);
    impl<'de, T: GoStruct<'de>> de::Deserialize<'de> for Value<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Nullable<T>(T);
            impl<'de, T: GoStruct<'de>> GoStruct<'de> for Nullable<T> {
                fn field<A: MapAccess<'de>>(
                    &mut self,
                    key: &str,
                    map: &mut A,
                ) -> Result<bool, A::Error> {
                    self.0.field(key, map)
                }
            }
            impl<T: Default> Default for Nullable<T> {
                fn default() -> Self {
                    Nullable(T::default())
                }
            }
            Elem::<Nullable<T>>::deserialize(d).map(|Elem(Nullable(v))| Value(v))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(src);
    let r = <Value<T> as de::Deserialize>::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    r.map(|Value(v)| v).map_err(|e| parse_error(&e))
}

/// Why [`for_each`] failed.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum JsonError<E> {
    /// The JSON, at its line.
    Json(ParseError),
    /// The callback's error.
    Stop(E),
}

fn parse_error(e: &serde_json::Error) -> ParseError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "invalid JSON",
        Category::Eof => "JSON cut short",
        Category::Data => "JSON value of the wrong type or out of range",
        Category::Io => "JSON could not be read",
    };
    ParseError::at(e.line(), what)
}

/// Go's `time.Duration.Seconds` of `ns` nanoseconds: whole seconds plus the remainder, each
/// converted on its own, so that e.g. 400ms reads `0.4`.
pub fn duration_seconds(ns: i64) -> f64 {
    let (sec, nsec) = (ns / 1_000_000_000, ns % 1_000_000_000);
    sec as f64 + nsec as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq)]
    struct T<'a> {
        name: Cow<'a, str>,
        count: u32,
        big: i64,
    }

    impl<'de> GoStruct<'de> for T<'de> {
        fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
            match key.to_ascii_lowercase().as_str() {
                "name" => {
                    let mut s = Str(std::mem::take(&mut self.name));
                    set(&mut s, map)?;
                    self.name = s.0;
                }
                "count" => set(&mut self.count, map)?,
                "big" => set(&mut self.big, map)?,
                _ => return Ok(false),
            }
            Ok(true)
        }
    }

    fn all(src: &str) -> Result<Vec<T<'_>>, JsonError<()>> {
        let mut v = Vec::new();
        for_each(src.as_bytes(), |t: T<'_>| {
            v.push(t);
            Ok(())
        })?;
        Ok(v)
    }

    #[test]
    fn go_struct_rules() {
        let v = all(r#"[{"Name":"a","COUNT":3,"count":4,"x":{"y":[1]}}, null,
            {"name":null,"big":-9}]"#)
        .unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!((v[0].name.as_ref(), v[0].count), ("a", 4));
        assert!(matches!(v[0].name, Cow::Borrowed(_)), "no escapes: borrowed");
        assert_eq!(v[1], T::default());
        assert_eq!((v[2].name.as_ref(), v[2].big), ("", -9));
        assert_eq!(all(r#"[{"name":"a\"b"}]"#).unwrap()[0].name, "a\"b");
        assert!(all("null").unwrap().is_empty());
        assert!(all(" [] ").unwrap().is_empty());
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "[",
            "{}",
            "[1]",
            "[{\"count\":-1}]",
            "[{\"count\":4294967296}]",
            "[{\"count\":1.5}]",
            "[{\"count\":1e3}]",
            "[{\"count\":\"1\"}]",
            "[{\"big\":9223372036854775808}]",
            "[{\"name\":1}]",
            "[] x",
            "[{\"name\":\"a\"},]",
        ] {
            assert!(matches!(all(bad), Err(JsonError::Json(_))), "{bad:?}");
        }
        let mut seen = 0;
        let r = for_each(b"[{},{},{}]", |_: T<'_>| {
            seen += 1;
            if seen == 2 {
                Err("stop")
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err(JsonError::Stop("stop")));
        assert_eq!(seen, 2);
    }

    #[derive(Debug, Default)]
    struct Ptr(u32);

    impl<'de> GoStruct<'de> for Ptr {
        const NULLABLE: bool = false;

        fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
            match key.eq_ignore_ascii_case("n") {
                true => set(&mut self.0, map).map(|()| true),
                false => Ok(false),
            }
        }
    }

    #[test]
    fn pointers_and_single_objects() {
        let mut n = Vec::new();
        let r = for_each(b"[{\"N\":1},{}]", |p: Ptr| {
            n.push(p.0);
            Ok::<(), ()>(())
        });
        assert_eq!((r, n), (Ok(()), vec![1, 0]));
        let r = for_each(b"[{\"n\":1},null]", |_: Ptr| Ok::<(), ()>(()));
        assert!(matches!(r, Err(JsonError::Json(_))), "a nil pointer element");

        let one: T<'_> = parse_one(br#" {"name":"x","count":2} "#).unwrap();
        assert_eq!((one.name.as_ref(), one.count), ("x", 2));
        assert_eq!(parse_one::<T<'_>>(b"null").unwrap(), T::default());
        assert_eq!(parse_one::<Ptr>(b"null").unwrap().0, 0, "a struct value, not a pointer");
        for bad in ["", "[]", "{} {}", "{\"count\":\"x\"}", "1"] {
            assert!(parse_one::<T<'_>>(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn base64_as_go() {
        let d = |s: &str| base64(s.as_bytes()).map(|v| v.to_vec());
        assert_eq!(d("ABEiM0RV"), Some(vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55]));
        assert_eq!(d("AQIDBAUG"), Some(vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(d("YQ=="), Some(b"a".to_vec()));
        assert_eq!(d("YWI="), Some(b"ab".to_vec()));
        assert_eq!(d("YW\nJj"), Some(b"abc".to_vec()));
        assert_eq!(d(""), Some(vec![]));
        for bad in ["YQ", "YQ=", "Y===", "YQ==YQ==", "YW=j", "****"] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration_seconds(400_000_000), 0.4);
        assert_eq!(duration_seconds(30_000_000_000), 30.0);
        assert_eq!(duration_seconds(1_500_000_000), 1.5);
        assert_eq!(duration_seconds(-1_500_000_000), -1.5);
    }
}
