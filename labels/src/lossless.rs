//! `Deserialize` for the lossless wire structs: the keys this crate types
//! go to their fields, every other key to `extra`, in the order read.
//!
//! This is what `#[serde(flatten)]` does, without its cost: serde buffers
//! every key of a struct with a flattened field into an intermediate tree
//! before it reads any field, which made a label row's parse several times
//! slower than the JSON itself (in the guest, per task, and again in the host
//! when it checks what the guest returned). Serialisation still derives with
//! `flatten`, which streams and costs nothing extra. [`lossless_struct!`]
//! declares such a struct with each key named once, for both directions.

/// Declares a lossless wire struct once: each typed field with its JSON key
/// and whether a missing key is an error (`required`) or `Default::default()`
/// (`default`), plus an `extra` map for every other key. It derives
/// `Serialize` (typed keys first, then `extra`) and implements the one-pass
/// `Deserialize`; a key given twice is an error, as with derived structs.
///
/// ```text
/// lossless_struct! {
///     /// An object on a frame.
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct FrameObject {
///         pub object_hash: String = "objectHash" required,
///         #[serde(skip_serializing_if = "Vec::is_empty")]
///         pub tags: Vec<String> = "tags" default,
///     }
/// }
/// ```
macro_rules! lossless_struct {
    (
        $(#[$attr:meta])*
        pub struct $ty:ident {
            $( $(#[$fattr:meta])* pub $field:ident : $fty:ty = $key:literal $req:ident ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(::serde::Serialize)]
        pub struct $ty {
            $( $(#[$fattr])* #[serde(rename = $key)] pub $field: $fty, )*
            /// Every key not typed above, in the order read, written back as it came.
            #[serde(flatten)]
            pub extra: ::serde_json::Map<String, ::serde_json::Value>,
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> ::serde::de::Visitor<'de> for Fields {
                    type Value = $ty;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($ty), ")"))
                    }

                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        $( let mut $field: Option<$fty> = None; )*
                        let mut extra = ::serde_json::Map::new();
                        while let Some(key) = map.next_key::<$crate::lossless::Key<'de>>()? {
                            match key.as_str() {
                                $( $key => {
                                    if $field.is_some() {
                                        return Err(<A::Error as ::serde::de::Error>::duplicate_field($key));
                                    }
                                    $field = Some(map.next_value()?);
                                } )*
                                _ => {
                                    let value: ::serde_json::Value = map.next_value()?;
                                    extra.insert(key.into_owned(), value);
                                }
                            }
                        }
                        $( let $field = match $field {
                            Some(v) => v,
                            None => lossless_struct!(@missing $req $key, A),
                        }; )*
                        Ok($ty { $( $field, )* extra })
                    }
                }
                d.deserialize_map(Fields)
            }
        }
    };
    (@missing required $key:literal, $a:ident) => {
        return Err(<$a::Error as ::serde::de::Error>::missing_field($key))
    };
    (@missing default $key:literal, $a:ident) => {
        Default::default()
    };
}

pub(crate) use lossless_struct;

/// A map key, borrowed from the input where it has no escapes: the typed
/// keys are matched without allocating a string for each.
pub(crate) enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    pub(crate) fn into_owned(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_string(),
            Key::Owned(s) => s,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }

            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(s))
            }

            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s.to_string()))
            }

            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s))
            }
        }
        d.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use crate::{FrameObject, Labels, Ontology};

    #[test]
    fn unknown_keys_are_kept_in_order_and_typed_keys_go_to_fields() {
        let json = r#"{"zeta":1,"objectHash":"o","alpha":{"x":[1,2]},"featureHash":"f","shape":"point","mid":null}"#;
        let o: FrameObject = serde_json::from_str(json).unwrap();
        assert_eq!(
            (
                o.object_hash.as_str(),
                o.feature_hash.as_str(),
                o.shape.as_str()
            ),
            ("o", "f", "point")
        );
        let extra: Vec<&str> = o.extra.keys().map(String::as_str).collect();
        assert_eq!(extra, ["zeta", "alpha", "mid"]);
        assert_eq!(o.extra["alpha"], serde_json::json!({"x": [1, 2]}));
    }

    #[test]
    fn missing_required_and_repeated_keys_are_errors_defaults_are_not() {
        let missing = serde_json::from_str::<FrameObject>(r#"{"objectHash":"o","shape":"point"}"#);
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("missing field `featureHash`"));
        let twice = serde_json::from_str::<FrameObject>(
            r#"{"objectHash":"o","objectHash":"p","featureHash":"f","shape":"point"}"#,
        );
        assert!(twice
            .unwrap_err()
            .to_string()
            .contains("duplicate field `objectHash`"));
        let empty: Ontology = serde_json::from_str("{}").unwrap();
        assert!(empty.objects.is_empty() && empty.classifications.is_empty());
        assert!(serde_json::from_str::<Ontology>("[]").is_err());
    }

    #[test]
    fn labels_are_one_frame_or_frames_by_their_first_key() {
        let frame: Labels = serde_json::from_str(r#"{"classifications":[],"objects":[]}"#).unwrap();
        assert!(matches!(frame, Labels::Frame(f) if f.objects.is_empty()));
        let frames: Labels =
            serde_json::from_str(r#"{"3":{"objects":[]},"0":{"objects":[],"classifications":[]}}"#)
                .unwrap();
        let Labels::Frames(map) = frames else {
            panic!("not frames")
        };
        assert_eq!(map.keys().collect::<Vec<_>>(), ["3", "0"]);
        let none: Labels = serde_json::from_str("{}").unwrap();
        assert!(matches!(none, Labels::Frames(m) if m.is_empty()));
        for bad in [
            r#"{"objects":[],"other":1}"#,
            r#"{"classifications":[]}"#,
            r#"{"objects":[],"objects":[]}"#,
            r#"{"0":{"objects":[]},"1":[]}"#,
        ] {
            assert!(
                serde_json::from_str::<Labels>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
