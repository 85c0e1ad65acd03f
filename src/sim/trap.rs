//! Catching a panic anywhere in a simulated world, so a run that lost something fails loudly.
//!
//! An actix actor whose handler panics dies quietly: tokio catches the panic in the actor's
//! task, later messages to it are dropped, and the run would go on and report a success rate
//! computed from whatever survived. A verification task that panics (in the router or the
//! traffic generator) simply vanishes, and the world may wait for it forever. Neither may pass
//! for a result.
//!
//! So while a world runs, its thread is *trapped*: a process-wide panic hook (installed once,
//! forwarding to the previous hook on threads without a trap) records the first panic of the
//! thread with the entity that was running (set by actor handlers through [`enter`]) and the
//! virtual time, and wakes the world's driver, which stops the run with
//! [`SimError::Panicked`](super::SimError). Every run has its own thread and runtime, so the
//! thread identifies the run.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::PanicHookInfo;
use std::rc::Rc;
use std::sync::Once;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::scenario::{CarrierId, CompiledScenario, RegionId};
use failover_router::ProviderId;

/// The world entity whose handler was running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entity {
    Region(RegionId),
    Provider(ProviderId),
    Carrier(CarrierId),
}

/// What panicked, where and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panicked {
    /// The entity, named as in the scenario (`provider "atlas"`), or what else was running.
    pub entity: String,
    /// Virtual time since the start of the run.
    pub at: Duration,
    pub message: String,
    /// `file:line` of the panic.
    pub location: String,
}

impl Panicked {
    /// Placeholder until [`release`] names the panic the trap recorded.
    pub(crate) fn pending() -> Self {
        Panicked {
            entity: String::new(),
            at: Duration::ZERO,
            message: String::new(),
            location: String::new(),
        }
    }

    /// A panic outside any trapped code (`what`: where), e.g. in a driver unwinding out of
    /// `block_on`: caught, so it ends the run as void instead of crashing the thread.
    pub(crate) fn outside(what: &str) -> Self {
        Panicked {
            entity: what.into(),
            at: Duration::ZERO,
            message: "a panic outside the trap".into(),
            location: "unknown location".into(),
        }
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the simulation panicked in {} at {:.3} s of simulated time: {} ({}); the run is \
             void, no result is reported",
            self.entity,
            self.at.as_secs_f64(),
            self.message,
            self.location
        )
    }
}

struct Trap {
    epoch: Instant,
    first: Option<(Option<Entity>, Duration, String, String)>,
    wake: Rc<Notify>,
}

thread_local! {
    static TRAP: RefCell<Option<Trap>> = const { RefCell::new(None) };
    static RUNNING: Cell<Option<Entity>> = const { Cell::new(None) };
}

/// Marks `entity` as running until the guard drops (also on unwind, after the hook has seen
/// it).
#[must_use]
pub(crate) struct Running(Option<Entity>);

#[inline]
pub(crate) fn enter(entity: Entity) -> Running {
    Running(RUNNING.replace(Some(entity)))
}

impl Drop for Running {
    #[inline]
    fn drop(&mut self) {
        RUNNING.set(self.0);
    }
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            // `try_with`: during thread teardown the trap may already be gone.
            let trapped = TRAP
                .try_with(|t| match t.try_borrow_mut() {
                    Ok(mut t) => match t.as_mut() {
                        Some(trap) => {
                            if trap.first.is_none() {
                                trap.first = Some((
                                    RUNNING.get(),
                                    Instant::now().saturating_duration_since(trap.epoch),
                                    payload_text(info),
                                    info.location()
                                        .map(|l| format!("{}:{}", l.file(), l.line()))
                                        .unwrap_or_else(|| "unknown location".into()),
                                ));
                            }
                            trap.wake.notify_one();
                            true
                        }
                        None => false,
                    },
                    Err(_) => false,
                })
                .unwrap_or(false);
            if !trapped {
                previous(info);
            }
        }));
    });
}

fn payload_text(info: &PanicHookInfo<'_>) -> String {
    let p = info.payload();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Traps panics on this thread until [`release`]; the returned `Notify` is woken by the first.
pub(crate) fn arm(epoch: Instant) -> Rc<Notify> {
    install_hook();
    let wake = Rc::new(Notify::new());
    TRAP.with(|t| {
        *t.borrow_mut() = Some(Trap {
            epoch,
            first: None,
            wake: Rc::clone(&wake),
        });
    });
    wake
}

/// Stops trapping this thread's panics; the first one trapped, named against `world`.
pub(crate) fn release(world: &CompiledScenario) -> Option<Panicked> {
    release_with(|e| match e {
        Entity::Region(r) => format!("region {:?}", world.region(r).name),
        Entity::Provider(p) => format!("provider {:?}", world.provider(p).name),
        Entity::Carrier(c) => format!("carrier {:?}", world.carrier(c).name),
    })
}

fn release_with(name: impl Fn(Entity) -> String) -> Option<Panicked> {
    let trap = TRAP.with(|t| t.borrow_mut().take())?;
    let (entity, at, message, location) = trap.first?;
    let entity = match entity {
        Some(e) => name(e),
        None => "a verification task (the router, its adapter or the traffic generator)".into(),
    };
    Some(Panicked {
        entity,
        at,
        message,
        location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(e: Entity) -> String {
        format!("{e:?}")
    }

    #[test]
    fn a_panic_in_a_task_is_trapped_with_its_entity_and_time() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let woke = local.block_on(&rt, async {
            let epoch = Instant::now();
            let wake = arm(epoch);
            tokio::task::spawn_local(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let _running = enter(Entity::Provider(ProviderId(3)));
                panic!("boom");
            });
            tokio::select! {
                biased;
                _ = wake.notified() => true,
                _ = tokio::time::sleep(Duration::from_secs(60)) => false,
            }
        });
        assert!(
            woke,
            "the driver is woken by the panic, not by its own timeout"
        );
        let p = release_with(name).expect("the panic was trapped");
        assert_eq!(p.entity, "Provider(ProviderId(3))");
        assert_eq!(p.at, Duration::from_secs(5));
        assert_eq!(p.message, "boom");
        assert!(p.location.contains("trap.rs"), "{}", p.location);
        assert!(p.to_string().contains("5.000 s of simulated time"), "{p}");
        // Released: the trap is gone, and the entity guard was reset on unwind.
        assert_eq!(release_with(name), None);
        assert_eq!(RUNNING.get(), None);
    }

    #[test]
    fn only_the_trapped_thread_is_watched() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            arm(Instant::now());
            // Another thread's panic (another run, or anything else) is not this run's.
            let other = std::thread::spawn(|| panic!("elsewhere")).join();
            assert!(other.is_err());
        });
        assert_eq!(release_with(name), None);
    }
}
