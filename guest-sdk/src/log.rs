//! Logging into the host's log. Inside a component the host attaches the
//! task and stage; in native tests lines go to stderr.

use std::cell::RefCell;

/// Log levels, as in the host's `RUST_LOG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Where log lines go: the host's import, or a test's collector.
pub(crate) type Sink = Box<dyn Fn(Level, &str)>;

thread_local! {
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

pub(crate) fn set_sink(sink: Option<Sink>) {
    SINK.with(|s| *s.borrow_mut() = sink);
}

/// Logs `message` at `level`.
pub fn log(level: Level, message: &str) {
    let sent = SINK.with(|s| {
        if let Some(sink) = s.borrow().as_ref() {
            sink(level, message);
            true
        } else {
            false
        }
    });
    if !sent {
        eprintln!("[{level:?}] {message}");
    }
}

pub fn debug(message: &str) {
    log(Level::Debug, message)
}

pub fn info(message: &str) {
    log(Level::Info, message)
}

pub fn warn(message: &str) {
    log(Level::Warn, message)
}

pub fn error(message: &str) {
    log(Level::Error, message)
}
