//! SIGINT and SIGTERM: stop at once, remove what is unfinished, exit 130 / 143.
//!
//! A handler thread (signal-hook's iterator: the signal handler itself only writes to a pipe)
//! waits for the signal, removes every registered temporary (a report's private directory, a
//! single file's temporary) and exits the process with 128 + the signal's number, the shell's
//! convention. Simulations run on worker threads and hold nothing worth saving, so nothing
//! waits for them. The previous outputs are untouched: they are replaced only by
//! [`Guarded::finish`], which holds the registry for the whole swap, so the handler runs before
//! a swap starts (the new output is removed) or after it ends (the new output is complete).
//!
//! A command that can end early with a complete result (`load`: stop the arrivals, drain, write
//! the report) registers a [`SoftStop`] instead: the first signal only raises its flag and the
//! command finishes by itself; a second signal stops at once, as above.
//!
//! `SIGKILL` cannot be handled: a killed run leaves its private directory
//! (`.failover-lab-XXXXXX`) beside the output, but never a mixed report.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

#[cfg(unix)]
use super::exit;

struct Registry {
    next: u64,
    paths: Vec<(u64, PathBuf)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 0,
    paths: Vec::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the handler thread. Without it (it cannot start) the signals keep their default
/// action: the process dies, possibly leaving temporaries, never a mixed report.
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("warning: cannot handle SIGINT and SIGTERM: {e}");
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let (name, code) = match signal {
                        SIGINT => ("SIGINT", exit::INTERRUPTED),
                        _ => ("SIGTERM", exit::TERMINATED),
                    };
                    if soft_stopped(name, code) {
                        continue;
                    }
                    stop(name, code);
                }
            });
        if let Err(e) = spawned {
            eprintln!("warning: cannot handle SIGINT and SIGTERM: {e}");
        }
    }
}

/// The registered soft stop, if any (one command at a time registers one).
static SOFT: Mutex<Option<Arc<SoftState>>> = Mutex::new(None);

struct SoftState {
    flag: Arc<AtomicBool>,
    /// The exit code of the signal that raised the flag.
    code: AtomicU8,
}

/// A flag the first SIGINT / SIGTERM raises instead of stopping the process; registered while
/// it lives.
pub struct SoftStop {
    state: Arc<SoftState>,
}

impl SoftStop {
    pub fn register() -> SoftStop {
        let state = Arc::new(SoftState {
            flag: Arc::new(AtomicBool::new(false)),
            code: AtomicU8::new(0),
        });
        *SOFT.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&state));
        SoftStop { state }
    }

    /// The flag, for whatever polls it.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.state.flag)
    }

    /// The exit code of the signal that raised the flag (130 for SIGINT, 143 for SIGTERM).
    pub fn raised(&self) -> Option<u8> {
        // The code is stored before the flag is raised.
        self.state
            .flag
            .load(Ordering::Acquire)
            .then(|| self.state.code.load(Ordering::Acquire))
    }
}

impl Drop for SoftStop {
    fn drop(&mut self) {
        let mut soft = SOFT.lock().unwrap_or_else(PoisonError::into_inner);
        if soft.as_ref().is_some_and(|s| Arc::ptr_eq(s, &self.state)) {
            *soft = None;
        }
    }
}

/// Raises a registered soft stop, once: `true` if there was one to raise.
#[cfg(unix)]
fn soft_stopped(signal: &str, code: u8) -> bool {
    let soft = SOFT.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(state) = soft.as_ref() else {
        return false;
    };
    if state.flag.load(Ordering::Acquire) {
        return false;
    }
    state.code.store(code, Ordering::Release);
    state.flag.store(true, Ordering::Release);
    eprintln!(
        "\n{signal}: no more arrivals; draining the verifications in flight, then writing the \
         report ({signal} again stops at once)"
    );
    true
}

/// Removes every registered path and exits with `code`.
#[cfg(unix)]
fn stop(signal: &str, code: u8) -> ! {
    // Waits for a swap in progress to end.
    let registry = registry();
    let mut left = Vec::new();
    for (_, path) in &registry.paths {
        if let Err(e) = remove(path) {
            left.push(format!("{}: {e}", path.display()));
        }
    }
    if left.is_empty() {
        eprintln!("\nstopped by {signal}: unfinished output removed, earlier output unchanged");
    } else {
        eprintln!(
            "\nstopped by {signal}; could not remove {}",
            left.join("; ")
        );
    }
    std::process::exit(i32::from(code))
}

/// Removes a file or a directory tree; a worker may still be creating files in it, so a
/// directory that is not empty yet is tried again.
#[cfg(unix)]
fn remove(path: &std::path::Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        let result = match std::fs::symlink_metadata(path) {
            Err(e) => Err(e),
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
        };
        match result {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if tries >= 10 => return Err(e),
            Err(_) => tries += 1,
        }
    }
}

/// A value owning a temporary path that the handler removes if the process is stopped.
pub struct Guarded<T> {
    value: Option<T>,
    id: u64,
}

/// Makes a value with `make` and registers the temporary `path` gives for it, the handler held
/// off in between (a signal cannot slip between making and registering).
pub fn guard<T, E>(
    make: impl FnOnce() -> Result<T, E>,
    path: impl FnOnce(&T) -> PathBuf,
) -> Result<Guarded<T>, E> {
    let mut registry = registry();
    let value = make()?;
    let id = registry.next;
    registry.next += 1;
    registry.paths.push((id, path(&value)));
    Ok(Guarded {
        value: Some(value),
        id,
    })
}

impl<T> Guarded<T> {
    /// Runs `f` (publishing the value: a swap, a rename) with the handler held off, then
    /// unregisters: a signal is handled before `f` starts or after it ends.
    pub fn finish<R>(mut self, f: impl FnOnce(T) -> R) -> R {
        let mut registry = registry();
        let value = self.value.take().expect("finished once");
        let result = f(value);
        registry.paths.retain(|(id, _)| *id != self.id);
        result
    }
}

impl<T> Deref for Guarded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_ref().expect("not finished")
    }
}

impl<T> DerefMut for Guarded<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("not finished")
    }
}

impl<T> Drop for Guarded<T> {
    /// Drops the value (which removes its temporary), then unregisters it.
    fn drop(&mut self) {
        drop(self.value.take());
        registry().paths.retain(|(id, _)| *id != self.id);
    }
}
