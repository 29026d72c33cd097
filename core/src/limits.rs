//! Enforcing a template's limits while code runs: the stop flag, the deadlines and the
//! CPU clock of the executing thread.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::template::Limits;

/// Why a run was stopped before it finished on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum StopReason {
    /// `cancel_execution` or `close_session`.
    Cancelled = 1,
    /// `cpu_ms` reached.
    CpuTime = 2,
    /// `wall_ms` reached.
    WallTime = 3,
    /// `max_events` reached.
    MaxEvents = 4,
    /// `max_output_kb` reached.
    MaxOutput = 5,
}

impl StopReason {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => StopReason::Cancelled,
            2 => StopReason::CpuTime,
            3 => StopReason::WallTime,
            4 => StopReason::MaxEvents,
            5 => StopReason::MaxOutput,
            _ => return None,
        })
    }

    /// The name of the limit, as recorded in `metrics.limit`.
    pub fn limit_name(self) -> Option<&'static str> {
        match self {
            StopReason::Cancelled => None,
            StopReason::CpuTime => Some("cpu_ms"),
            StopReason::WallTime => Some("wall_ms"),
            StopReason::MaxEvents => Some("max_events"),
            StopReason::MaxOutput => Some("max_output_kb"),
        }
    }

    /// What the `system` event and the execution's `error` say.
    pub fn describe(self, limits: &Limits) -> String {
        match self {
            StopReason::Cancelled => "execution cancelled".into(),
            StopReason::CpuTime => format!(
                "cpu_ms limit of {} ms exceeded: the script was stopped",
                limits.cpu_ms
            ),
            StopReason::WallTime => format!(
                "wall_ms limit of {} ms exceeded: the script was stopped",
                limits.wall_ms
            ),
            StopReason::MaxEvents => format!(
                "max_events limit of {} events reached: the script was stopped and later output dropped",
                limits.max_events
            ),
            StopReason::MaxOutput => format!(
                "max_output_kb limit of {} KiB reached: the script was stopped and later output dropped",
                limits.max_output_kb
            ),
        }
    }
}

/// The limits of one run, checked from the interrupt handler, between timer waits and in
/// host calls. `stop` may be set from any thread; the clocks are read on the running one.
pub(crate) struct Guard {
    stop: AtomicU8,
    started: Instant,
    wall_deadline: Instant,
    cpu_started_ns: u64,
    cpu_limit_ns: u64,
    /// When (nanoseconds after `started`) to next ask the thread's interrupt check.
    next_poll_ns: AtomicU64,
}

/// How often a run asks its thread's interrupt check (see [`with_interrupt_check`]).
const INTERRUPT_POLL: Duration = Duration::from_millis(20);

type InterruptCheck = Box<dyn FnMut() -> bool>;

thread_local! {
    static INTERRUPT_CHECK: RefCell<Option<InterruptCheck>> = const { RefCell::new(None) };
}

/// Runs `f` with `check` installed on the calling thread: every execution that runs on this
/// thread meanwhile asks it, about every 20 ms of its run (never for a run that ends
/// sooner), whether to stop; `true` cancels the execution (it ends `cancelled`).
///
/// For hosts whose interrupts only the running thread can see (Python delivers Ctrl-C to
/// the main thread, as a pending signal checked with the GIL held): the call then runs on
/// the caller's thread and pays nothing when it is short. `check` may call back into the
/// library; a run nested in it does not ask it again.
pub fn with_interrupt_check<T>(check: impl FnMut() -> bool + 'static, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<InterruptCheck>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            INTERRUPT_CHECK.with(|slot| {
                if let Ok(mut slot) = slot.try_borrow_mut() {
                    *slot = previous;
                }
            });
        }
    }
    let previous = INTERRUPT_CHECK.with(|slot| slot.borrow_mut().replace(Box::new(check)));
    let _restore = Restore(previous);
    f()
}

/// Asks the calling thread's interrupt check, if any (and if it is not already running).
fn interrupt_requested() -> bool {
    INTERRUPT_CHECK.with(|slot| match slot.try_borrow_mut() {
        Ok(mut check) => check.as_mut().is_some_and(|check| check()),
        Err(_) => false,
    })
}

impl Guard {
    /// Starts the clocks; must be called on the thread that will run the code.
    pub fn start(limits: &Limits) -> Self {
        let started = Instant::now();
        Guard {
            stop: AtomicU8::new(0),
            started,
            wall_deadline: started + Duration::from_millis(limits.wall_ms),
            cpu_started_ns: thread_cpu_ns(),
            cpu_limit_ns: limits.cpu_ms.saturating_mul(1_000_000),
            next_poll_ns: AtomicU64::new(INTERRUPT_POLL.as_nanos() as u64),
        }
    }

    /// Requests a stop; the first reason wins.
    pub fn stop(&self, reason: StopReason) {
        let _ = self
            .stop
            .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The reason the run was stopped, if it was.
    pub fn stopped(&self) -> Option<StopReason> {
        StopReason::from_u8(self.stop.load(Ordering::Acquire))
    }

    /// Checks the clocks (on the running thread) and returns the stop reason, if any.
    pub fn check(&self) -> Option<StopReason> {
        if let Some(reason) = self.stopped() {
            return Some(reason);
        }
        let now = Instant::now();
        if now >= self.wall_deadline {
            self.stop(StopReason::WallTime);
        } else if now.duration_since(self.started).as_nanos() as u64 >= self.cpu_limit_ns
            && self.cpu_used_ns() >= self.cpu_limit_ns
        {
            // A thread cannot use more CPU time than has passed, so the CPU clock (a real
            // system call) is read only once the wall time could have reached the limit.
            self.stop(StopReason::CpuTime);
        } else {
            let since = now.duration_since(self.started).as_nanos() as u64;
            if since >= self.next_poll_ns.load(Ordering::Relaxed) {
                self.next_poll_ns
                    .store(since + INTERRUPT_POLL.as_nanos() as u64, Ordering::Relaxed);
                if interrupt_requested() {
                    self.stop(StopReason::Cancelled);
                }
            }
        }
        self.stopped()
    }

    /// Time left before the wall deadline.
    pub fn wall_remaining(&self) -> Duration {
        self.wall_deadline.saturating_duration_since(Instant::now())
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// CPU time used by the calling thread since the start.
    pub fn cpu_used_ns(&self) -> u64 {
        thread_cpu_ns().saturating_sub(self.cpu_started_ns)
    }
}

/// CPU time consumed by the calling thread, in nanoseconds.
pub(crate) fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// Bytes of stack left below the current frame of the calling thread, if known.
pub(crate) fn stack_remaining() -> Option<usize> {
    thread_local! {
        static STACK_LOW: Option<usize> = stack_low_address();
    }
    let marker = 0u8;
    let here = &marker as *const u8 as usize;
    STACK_LOW.with(|low| low.map(|low| here.saturating_sub(low)))
}

fn stack_low_address() -> Option<usize> {
    // SAFETY: pthread_getattr_np fills an attribute object that we destroy afterwards.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 || addr.is_null() {
            return None;
        }
        // Keep a margin above the reported bottom (the guard page, and frames the C code
        // below a JavaScript check may need), but no more than a quarter of a small stack:
        // a margin as large as the stack would leave a budget of 0, which QuickJS reads
        // as "no limit".
        Some(addr as usize + (size / 4).min(64 * 1024))
    }
}
