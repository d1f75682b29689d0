//! The generated WIT bindings. Agent authors never use these directly.

wit_bindgen::generate!({
    world: "agent-with-init",
    path: "../wit",
    pub_export_macro: true,
    // wasi:nn too (no crate ships its component bindings).
    generate_all,
    export_macro_name: "__export_encord_agent",
    default_bindings_module: "encord_agent_sdk::bindings",
});
