//! A valid component of some other world: the host must refuse it clearly.

wit_bindgen::generate!({
    inline: "package test:other@1.0.0; world other { export greet: func() -> string; }",
});

struct Other;

impl Guest for Other {
    fn greet() -> String {
        "hello".into()
    }
}

export!(Other);
