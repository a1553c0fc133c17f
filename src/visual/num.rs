//! Numbers in saved events, non-finite ones included.
//!
//! JSON has no NaN or infinity, and `serde_json` writes them as `null`, so a run whose loss
//! blew up used to leave a save that could not be read back. Here every float an event holds
//! is written as a JSON number when it is finite and as the string `"NaN"`, `"Infinity"` or
//! `"-Infinity"` when it is not (the spellings Python's `float()` reads), and read back from
//! either. A `null` reads as NaN, so saves written before this still replay. Finite numbers
//! keep their exact bits (`serde_json`'s `float_roundtrip`).
//!
//! Use it on a field with `#[serde(with = "crate::visual::num")]`; it works for `f64` and for
//! vectors, pairs, labelled values and maps of them ([`Nums`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// One float as it travels through JSON.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Num(pub f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if v > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, or \"NaN\", \"Infinity\" or \"-Infinity\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(f64::NAN))
            }
            fn visit_none<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(f64::NAN))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Num, E> {
                match s {
                    "NaN" | "nan" => Ok(Num(f64::NAN)),
                    "Infinity" | "inf" | "+Infinity" => Ok(Num(f64::INFINITY)),
                    "-Infinity" | "-inf" => Ok(Num(f64::NEG_INFINITY)),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A value made of floats that can travel as [`Num`]s.
pub trait Nums: Sized {
    type Wire: Serialize + for<'de> Deserialize<'de>;
    fn to_wire(&self) -> Self::Wire;
    fn from_wire(w: Self::Wire) -> Self;
}

impl Nums for f64 {
    type Wire = Num;
    fn to_wire(&self) -> Num {
        Num(*self)
    }
    fn from_wire(w: Num) -> f64 {
        w.0
    }
}

impl<T: Nums> Nums for [T; 2] {
    type Wire = [T::Wire; 2];
    fn to_wire(&self) -> Self::Wire {
        [self[0].to_wire(), self[1].to_wire()]
    }
    fn from_wire([a, b]: Self::Wire) -> Self {
        [T::from_wire(a), T::from_wire(b)]
    }
}

impl<T: Nums> Nums for Vec<T> {
    type Wire = Vec<T::Wire>;
    fn to_wire(&self) -> Self::Wire {
        self.iter().map(Nums::to_wire).collect()
    }
    fn from_wire(w: Self::Wire) -> Self {
        w.into_iter().map(T::from_wire).collect()
    }
}

impl<T: Nums> Nums for (String, T) {
    type Wire = (String, T::Wire);
    fn to_wire(&self) -> Self::Wire {
        (self.0.clone(), self.1.to_wire())
    }
    fn from_wire((name, v): Self::Wire) -> Self {
        (name, T::from_wire(v))
    }
}

impl<T: Nums> Nums for BTreeMap<String, T> {
    type Wire = BTreeMap<String, T::Wire>;
    fn to_wire(&self) -> Self::Wire {
        self.iter().map(|(k, v)| (k.clone(), v.to_wire())).collect()
    }
    fn from_wire(w: Self::Wire) -> Self {
        w.into_iter().map(|(k, v)| (k, T::from_wire(v))).collect()
    }
}

/// For `#[serde(with = "crate::visual::num")]`.
pub fn serialize<T: Nums, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    v.to_wire().serialize(s)
}

/// For `#[serde(with = "crate::visual::num")]`.
pub fn deserialize<'de, T: Nums, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    T::Wire::deserialize(d).map(T::from_wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        x: f64,
        #[serde(with = "super")]
        points: Vec<[f64; 2]>,
        #[serde(with = "super")]
        values: BTreeMap<String, f64>,
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn non_finite_numbers_read_back_as_they_were_written() {
        let h = Holder {
            x: f64::NAN,
            points: vec![[f64::INFINITY, -0.0], [f64::NEG_INFINITY, 0.1 + 0.2]],
            values: BTreeMap::from([("loss".into(), 1.5e300), ("nan".into(), f64::NAN)]),
        };
        let text = serde_json::to_string(&h).unwrap();
        assert!(
            text.contains("\"NaN\"") && text.contains("\"-Infinity\""),
            "{text}"
        );
        let back: Holder = serde_json::from_str(&text).unwrap();
        assert!(same(back.x, h.x));
        for (p, q) in back.points.iter().zip(&h.points) {
            assert!(same(p[0], q[0]) && same(p[1], q[1]), "{p:?} vs {q:?}");
        }
        assert!(same(back.values["nan"], f64::NAN));
        assert_eq!(back.values["loss"], 1.5e300);
    }

    #[test]
    fn finite_numbers_keep_every_bit() {
        for v in [0.1, 1.0 / 3.0, -2.5e-310, f64::MAX, 123_456_789.123_456_78] {
            let text = serde_json::to_string(&Num(v)).unwrap();
            let back: Num = serde_json::from_str(&text).unwrap();
            assert_eq!(back.0.to_bits(), v.to_bits(), "{v} → {text}");
        }
    }

    #[test]
    fn a_null_written_by_an_older_mllab_reads_as_nan() {
        let back: Num = serde_json::from_str("null").unwrap();
        assert!(back.0.is_nan());
        assert!(serde_json::from_str::<Num>("\"lots\"").is_err());
    }
}
