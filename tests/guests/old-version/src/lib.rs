//! An agent built against an older version of runner-host's package
//! (`encord:agent@0.1.0`, a stand-in for any other version): the host must
//! name both versions and the fix, not report a linking error.

wit_bindgen::generate!({
    inline: "
        package encord:agent@0.1.0;
        interface log { log: func(message: string); }
        interface handler { stages: func() -> list<string>; }
        world agent { import log; export handler; }
    ",
});

struct Old;

impl exports::encord::agent::handler::Guest for Old {
    fn stages() -> Vec<String> {
        encord::agent::log::log("stages asked");
        vec!["pre-label".into()]
    }
}

export!(Old);
