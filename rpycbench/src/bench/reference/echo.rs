//! The echo process the reference's round trips go to, and CPU pinning.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

/// An echo process: forked, in its own session (like the servers, so the scheduler
/// treats it as it treats them), killed when dropped, and killed by the kernel if this
/// thread dies first.
pub(super) struct EchoProcess {
    pid: libc::pid_t,
}

impl EchoProcess {
    /// Forks the echo process onto `listener`, pinned to `cpu` when given.
    pub(super) fn start(listener: &TcpListener, cpu: Option<usize>) -> io::Result<EchoProcess> {
        let fd = listener.as_raw_fd();
        let pinned = cpu.map(one_cpu);
        // SAFETY: the child calls only async-signal-safe functions (setsid, prctl, getppid,
        // sched_setaffinity, accept, read, write, close, _exit) on a stack buffer, as POSIX requires after
        // fork in a multi-threaded process: no allocation, no lock, no Rust runtime.
        let parent = std::process::id() as libc::pid_t;
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => unsafe {
                libc::setsid();
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // A parent killed before the line above left no one to signal: the
                // echo process would live on, adopted by init.
                if libc::getppid() != parent {
                    libc::_exit(0);
                }
                if let Some(set) = &pinned {
                    libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set);
                }
                let mut buf = [0u8; 4096];
                loop {
                    let conn = libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut());
                    if conn < 0 {
                        libc::_exit(0);
                    }
                    loop {
                        let n = libc::read(conn, buf.as_mut_ptr().cast(), buf.len());
                        if n <= 0 || libc::write(conn, buf.as_ptr().cast(), n as usize) != n {
                            break;
                        }
                    }
                    libc::close(conn);
                }
            },
            pid => Ok(EchoProcess { pid }),
        }
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        // SAFETY: our own child, killed and reaped once.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// A `cpu_set_t` holding `cpu` alone.
fn one_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain bits; all zeroes is the empty set, and CPU_SET ignores
    // a CPU beyond its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

/// The CPUs this thread may run on.
pub(super) fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t filled in by the kernel; CPU_ISSET reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect()
    }
}

/// The calling thread pinned to one CPU until dropped, when its affinity is restored.
pub(super) struct PinnedThread {
    before: libc::cpu_set_t,
}

impl PinnedThread {
    pub(super) fn to(cpu: usize) -> Option<PinnedThread> {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: cpu_set_t values owned here, passed with their size; 0 is this thread.
        unsafe {
            let mut before: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size, &mut before) != 0 {
                return None;
            }
            (libc::sched_setaffinity(0, size, &one_cpu(cpu)) == 0).then_some(PinnedThread { before })
        }
    }
}

impl Drop for PinnedThread {
    fn drop(&mut self) {
        // SAFETY: restores the mask read in `to`, for this same thread.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.before);
        }
    }
}
