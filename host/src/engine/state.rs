//! The data of one Store: WASI, each capability's state for the call, the
//! memory limiter, the guest's stderr; and how a trap is named.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::{CallContext, CallError, Effects, Grants, Limits};
use crate::capabilities::Capabilities;

/// The instance's memory cap, enforced as wasmtime asks it to grow memory,
/// and what it used: the memory-limit trap is recognised from here, not
/// from an error's text.
pub(crate) struct MemoryLimiter {
    /// Per linear memory, as `--memory-limit` says.
    cap: usize,
    /// All memories' current sizes added up, and the most they reached.
    total: usize,
    peak: usize,
    /// A growth past the cap was refused (and trapped).
    exceeded: bool,
}

impl MemoryLimiter {
    fn new(cap: usize) -> MemoryLimiter {
        MemoryLimiter {
            cap,
            total: 0,
            peak: 0,
            exceeded: false,
        }
    }

    /// The most linear memory the instance held at once.
    pub(crate) fn peak_bytes(&self) -> usize {
        self.peak
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.exceeded = true;
            // A trap, not a failed `memory.grow`: the task fails with its
            // own reason instead of whatever the guest makes of -1.
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
        self.total = self.total.saturating_add(desired.saturating_sub(current));
        self.peak = self.peak.max(self.total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables are bounded by the pooling allocator's slots.
        Ok(true)
    }
}

/// How much of the guest's stderr is kept to explain a trap.
const STDERR_CAPACITY: usize = 64 * 1024;

/// The guest's stderr: its last [`STDERR_CAPACITY`] bytes (a panic message
/// comes last). Writing more never fails the guest; older bytes go.
#[derive(Clone, Default)]
pub(crate) struct StderrTail(Arc<Mutex<VecDeque<u8>>>);

impl StderrTail {
    fn push(&self, bytes: &[u8]) {
        let mut tail = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = &bytes[bytes.len().saturating_sub(STDERR_CAPACITY)..];
        let over = (tail.len() + bytes.len()).saturating_sub(STDERR_CAPACITY);
        tail.drain(..over);
        tail.extend(bytes);
    }

    fn text(&self) -> String {
        let tail = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (a, b) = tail.as_slices();
        String::from_utf8_lossy(&[a, b].concat()).trim().to_string()
    }

    /// Forgets what was written (a reused instance starts its next task).
    fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrTail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for StderrTail {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(STDERR_CAPACITY)
    }
}

#[async_trait::async_trait]
impl Pollable for StderrTail {
    async fn ready(&mut self) {}
}

impl AsyncWrite for StderrTail {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

pub(crate) struct TaskState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    http: WasiHttpCtx,
    /// Each capability's state for the call.
    pub(crate) caps: Capabilities,
    /// Inference state, kept for the instance's life (its tensors and
    /// graphs live in `table`).
    pub(crate) nn: crate::capabilities::nn::Nn,
    pub(crate) limits: MemoryLimiter,
    stderr: StderrTail,
    memory_bytes: usize,
    grants: Arc<Grants>,
}

impl TaskState {
    pub(crate) fn new(
        cx: CallContext,
        memory_bytes: usize,
        grants: &Arc<Grants>,
    ) -> Result<TaskState, String> {
        let stderr = StderrTail::default();
        // Nothing by default: no environment, no filesystem, no network.
        let asset = cx.asset_dir.as_ref().map(|a| a.dir.as_path());
        let wasi = grants.wasi(stderr.clone(), asset)?;
        Ok(TaskState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            caps: Capabilities::new(cx, memory_bytes, grants),
            nn: crate::capabilities::nn::Nn::new(grants.models.clone(), memory_bytes),
            limits: MemoryLimiter::new(memory_bytes),
            stderr,
            memory_bytes,
            grants: grants.clone(),
        })
    }

    /// Makes a reused instance's store serve the next call: each
    /// capability's state for it, and a clean stderr.
    pub(crate) fn next_call(&mut self, cx: CallContext) {
        self.caps = Capabilities::new(cx, self.memory_bytes, &self.grants);
        self.stderr.clear();
    }

    /// What the call asked to write.
    pub(crate) fn take_effects(&mut self) -> Effects {
        self.caps.take_effects()
    }

    /// What the guest wrote to stderr (a panic message, typically).
    fn stderr_text(&self) -> String {
        self.stderr.text()
    }
}

impl WasiView for TaskState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for TaskState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.caps.net,
        }
    }
}

/// Names what stopped the guest: the memory cap, or a trap with the
/// guest's own panic message when it printed one; with `backtrace`, a trap
/// also carries the guest's backtrace (function names only).
pub(crate) fn classify_trap(
    e: wasmtime::Error,
    state: &TaskState,
    limits: &Limits,
    backtrace: bool,
) -> CallError {
    let error = classify(&e, state, limits);
    let reason = match &error {
        CallError::Trap(reason) => reason.clone(),
        CallError::StackOverflow => error.to_string(),
        _ => return error,
    };
    match e.downcast_ref::<wasmtime::WasmBacktrace>() {
        Some(bt) if backtrace && !bt.frames().is_empty() => {
            CallError::Trap(format!("{reason}\n{}", guest_backtrace(bt)))
        }
        _ => error,
    }
}

/// `guest backtrace:` and one line per frame, innermost first: the
/// (demangled) function name, or its index when the guest has no names.
fn guest_backtrace(bt: &wasmtime::WasmBacktrace) -> String {
    let mut out = String::from("guest backtrace:");
    for (i, f) in bt.frames().iter().enumerate().take(64) {
        let name = f
            .func_name()
            .map(|n| format!("{:#}", rustc_demangle::demangle(n)))
            .unwrap_or_else(|| format!("<function {}>", f.func_index()));
        out.push_str(&format!("\n  {i}: {name}"));
    }
    if bt.frames().len() > 64 {
        out.push_str(&format!("\n  … {} more", bt.frames().len() - 64));
    }
    out
}

/// Added to an out-of-bounds trap's reason.
const STACK_HINT: &str =
    " (if the agent recurses deeply or keeps large arrays in locals, its stack \
     may have overflowed: link it with a larger `-zstack-size`)";

fn classify(e: &wasmtime::Error, state: &TaskState, limits: &Limits) -> CallError {
    let text = format!("{e:#}");
    if state.limits.exceeded {
        return CallError::Memory(limits.memory_bytes >> 20);
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => return CallError::Fuel(limits.fuel.unwrap_or(0)),
        Some(wasmtime::Trap::StackOverflow) => return CallError::StackOverflow,
        _ => {}
    }
    let stderr = state.stderr_text();
    // "thread '<unnamed>' (1) panicked at src/lib.rs:3:5:\nmessage" →
    // "at src/lib.rs:3:5: message" (guest source paths, never host ones).
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    let panic = match lines.next() {
        Some(first) => {
            let place = first
                .split_once("panicked ")
                .map_or(first, |(_, p)| p)
                .trim_end_matches(':');
            let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
            format!("{place}: {}", message.join(" "))
        }
        None => String::new(),
    };
    let trap = e
        .downcast_ref::<wasmtime::Trap>()
        .map(|t| t.to_string())
        // Not a wasm trap: a host function refused what the guest sent; its
        // own message is the reason (under wasmtime's backtrace context).
        .unwrap_or_else(|| {
            let cause = e.root_cause().to_string();
            if cause.is_empty() {
                text.lines().next().unwrap_or_default().to_string()
            } else {
                cause
            }
        });
    if panic.is_empty() {
        // A Rust or C guest keeps part of its stack at the start of linear
        // memory, sized when it is linked; running past it is an access out
        // of bounds, indistinguishable here from any other.
        let hint = match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::MemoryOutOfBounds) => STACK_HINT,
            _ => "",
        };
        CallError::Trap(format!("agent trapped: {trap}{hint}"))
    } else {
        CallError::Trap(format!("agent panicked {panic}"))
    }
}
