//! The data of one Store: the context of one call into the guest.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::{CallError, Grants, Limits, NetGrant};
use crate::platform::{DataItem, TwinRecord};

/// What every call of one run shares: the project.
#[derive(Debug)]
pub struct ProjectContext {
    pub project_hash: String,
    pub title: String,
    pub description: String,
    pub ontology_hash: String,
    pub ontology_json: String,
}

/// The stage a task belongs to.
#[derive(Debug, Clone)]
pub struct StageContext {
    pub uuid: String,
    pub title: String,
    /// (uuid, name, destination uuid)
    pub pathways: Vec<(String, String, String)>,
}

/// The data behind one task, as its stage declared it.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub item: DataItem,
    /// The data's bytes on local disk (when `asset` or `frames` was declared).
    pub file: Option<PathBuf>,
    /// A group's children on local disk, in frame order.
    pub children: Vec<PathBuf>,
    pub asset: bool,
    pub frames: bool,
}

/// What a call decided besides its outcome, written with it if the task
/// succeeds; and what the call used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// New client metadata (a JSON object) for the task's storage item.
    pub client_metadata: Option<String>,
    /// Label rows to save in twin projects: (project hash, label row JSON),
    /// one per project, already checked against that project's ontology.
    pub twin_saves: Vec<(String, String)>,
    /// Twin tasks to move, one per twin project, already checked against the
    /// twin stage's pathways.
    pub twin_moves: Vec<TwinMove>,
    /// Not a write: what the call's instance used, set when the call ends
    /// (returned, trapped or timed out), whatever the task's fate.
    pub usage: Usage,
}

/// A twin task to move along a pathway of the agent stage it sits in.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinMove {
    pub project_hash: String,
    pub stage_uuid: String,
    pub task_uuid: String,
    pub pathway_uuid: String,
}

/// A twin project a stage declared: what is saved to it is checked against
/// its own ontology; its task moves are checked against its workflow.
#[derive(Debug)]
pub struct TwinProject {
    pub title: String,
    pub ontology_json: String,
    pub ontology: Arc<encord_labels::Ontology>,
    pub workflow: crate::platform::Workflow,
}

/// What a call's instance used: reported per task, so that an operator can
/// size `--memory-limit` and `--fuel` from data.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// The most linear memory the instance held at once (all its memories).
    /// A kept instance (`--reuse-instance`) reports its peak so far.
    pub memory_peak_bytes: u64,
    /// Fuel the call burned, when `--fuel` is set.
    pub fuel_used: Option<u64>,
}

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

/// What one call may read through the imports.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub project: Arc<ProjectContext>,
    pub stage: Option<Arc<StageContext>>,
    /// The task's label row JSON, when its stage declared the need.
    pub label_row: Option<Arc<str>>,
    /// The task uuid, for log lines.
    pub task_uuid: Option<String>,
    /// The task's data hash (what a twin save must be for).
    pub data_hash: Option<String>,
    /// The task as listed (its details are served by `tasks.details`).
    pub task: Option<Arc<crate::platform::Task>>,
    /// The storage item and media, when the stage declared them.
    pub data: Option<Arc<TaskData>>,
    /// A read-only directory holding only this task's asset file, mounted
    /// at `/asset`, and the file's name in it.
    pub asset_dir: Option<(PathBuf, String)>,
    /// Twin label rows by project hash, for the twins the stage declared.
    pub twins: Arc<HashMap<String, Option<TwinRecord>>>,
    /// Every twin project the agent's stages declared, by project hash.
    pub twin_projects: Arc<HashMap<String, Arc<TwinProject>>>,
    /// Collected during the call; read by the runner after it.
    pub effects: Arc<Mutex<Effects>>,
}

impl CallContext {
    pub fn new(
        project: Arc<ProjectContext>,
        stage: Option<Arc<StageContext>>,
        label_row: Option<Arc<str>>,
    ) -> CallContext {
        CallContext {
            project,
            stage,
            label_row,
            task_uuid: None,
            data_hash: None,
            task: None,
            data: None,
            asset_dir: None,
            twins: Arc::default(),
            twin_projects: Arc::default(),
            effects: Arc::default(),
        }
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

/// Outgoing HTTP (wasi:http): sent only to hosts granted by `--allow-net`;
/// anything else gets `HTTP-request-denied` and a warning in the log.
struct HttpGrants {
    allowed: Arc<[NetGrant]>,
    task: Option<String>,
}

impl HttpGrants {
    fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(host), Some(scheme)) = (uri.host(), uri.scheme_str()) else {
            return false;
        };
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "http" { 80 } else { 443 });
        self.allowed.iter().any(|g| g.allows(host, port))
    }
}

/// What `WasiHttpHooks::send_request` works with.
type HttpIo = Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;
type HttpSent = Box<
    dyn std::future::Future<
            Output = Result<
                (http::Response<wasmtime_wasi_http::WasiBody>, HttpIo),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpGrants {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: HttpIo,
    ) -> HttpSent {
        if !self.allows(request.uri()) {
            // The authority only: a query string may carry a guest's secrets.
            let to = request
                .uri()
                .authority()
                .map_or_else(String::new, |a| a.to_string());
            tracing::warn!(
                task = self.task.as_deref().unwrap_or("-"),
                "the agent's HTTP request to `{to}` was denied: that host is not granted (--allow-net HOST[:PORT])"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as HttpIo))
        })
    }
}

pub(crate) struct TaskState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    http: WasiHttpCtx,
    http_grants: HttpGrants,
    pub(crate) limits: MemoryLimiter,
    pub(crate) cx: CallContext,
    stderr: StderrTail,
    memory_bytes: usize,
}

impl TaskState {
    pub(crate) fn new(cx: CallContext, memory_bytes: usize, grants: &Grants) -> TaskState {
        let stderr = StderrTail::default();
        // Nothing by default: no environment, no filesystem, no network.
        let asset = cx.asset_dir.as_ref().map(|(dir, _)| dir.as_path());
        let wasi = grants.wasi(stderr.clone(), asset);
        TaskState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_grants: HttpGrants {
                allowed: grants.net.clone(),
                task: cx.task_uuid.clone(),
            },
            limits: MemoryLimiter::new(memory_bytes),
            cx,
            stderr,
            memory_bytes,
        }
    }

    /// Makes a reused instance's store serve the next call: its context,
    /// and a clean stderr.
    pub(crate) fn next_call(&mut self, cx: CallContext) {
        self.http_grants.task.clone_from(&cx.task_uuid);
        self.cx = cx;
        self.stderr.clear();
    }

    /// The memory cap of this call's instance.
    pub(crate) fn memory_cap(&self) -> usize {
        self.memory_bytes
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
            hooks: &mut self.http_grants,
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
        .unwrap_or_else(|| text.lines().next().unwrap_or_default().to_string());
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
