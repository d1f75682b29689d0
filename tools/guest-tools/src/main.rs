//! `guest-tools`: what building a C agent needs besides clang, from crates
//! instead of the `wit-bindgen` and `wasm-tools` CLIs (which take ~13 minutes
//! to `cargo install` on two cores).
//!
//! - `guest-tools c-bindings WIT_DIR WORLD OUT_DIR`: the C bindings of a WIT
//!   world (`<world>.h`, `<world>.c`, `<world>_component_type.o`);
//! - `guest-tools component CORE.wasm OUT.wasm`: a wasip1 reactor module into
//!   a component, adapted with the WASI preview1 reactor adapter of the
//!   host's wasmtime version.

use std::path::Path;

use anyhow::{bail, Context, Result};
use wit_bindgen_core::Files;
use wit_parser::Resolve;

fn c_bindings(wit: &Path, world: &str, out: &Path) -> Result<()> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .with_context(|| format!("reading the WIT in {}", wit.display()))?;
    let world = resolve
        .select_world(&[package], Some(world))
        .with_context(|| format!("no world `{world}` in {}", wit.display()))?;
    let mut files = Files::default();
    let mut generator = wit_bindgen_c::Opts::default().build();
    generator.generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out)?;
    for (name, contents) in files.iter() {
        std::fs::write(out.join(name), contents)
            .with_context(|| format!("writing {}", out.join(name).display()))?;
    }
    Ok(())
}

fn component(core: &Path, out: &Path) -> Result<()> {
    let module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    let bytes = wit_component::ComponentEncoder::default()
        .module(&module)
        .context(
            "the core module carries no component type: link <world>_component_type.o into it",
        )?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .validate(true)
        .encode()
        .context("making the component")?;
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["c-bindings", wit, world, out] => c_bindings(Path::new(wit), world, Path::new(out)),
        ["component", core, out] => component(Path::new(core), Path::new(out)),
        _ => bail!(
            "usage: guest-tools c-bindings WIT_DIR WORLD OUT_DIR | guest-tools component CORE.wasm OUT.wasm"
        ),
    }
}
