//! JSON read as Go's `encoding/json` reads it into a struct, for the fixture files upstream's
//! qdisc and wifi collectors take in place of netlink (`--collector.qdisc.fixtures`,
//! `--collector.wifi.fixtures`).
//!
//! What carries over from Go: object keys match struct fields without regard to ASCII case,
//! and a later key wins; unknown keys are skipped; `null` leaves a field as it was (an array
//! element that is `null` is the zero struct); integers must be integers in the field's range;
//! anything else, or trailing text after the value, is an error. Arrays are walked element by element ([`for_each`]), and
//! strings without escapes are borrowed, so reading a fixture allocates little.

use super::ParseError;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A struct as Go unmarshals it: fields set from the keys that name them.
pub trait GoStruct<'de>: Default {
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
                Ok(Elem(T::default()))
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
}
