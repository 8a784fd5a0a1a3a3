//! System calls that neither rustix nor std wrap safely: `adjtimex(2)`, the `SIOCETHTOOL`
//! ioctl, `perf_event_open(2)` and its ioctls, the btrfs ioctls `BTRFS_IOC_FS_INFO`,
//! `BTRFS_IOC_DEV_INFO` and `BTRFS_IOC_GET_DEV_STATS`, and glibc's `mallopt(3)` and
//! `malloc_trim(3)`.
//!
//! **This is the only module of nodegate that may use `unsafe`.** Every other module is
//! compiled under the workspace's `deny(unsafe_code)` and calls the safe wrappers here. Each
//! wrapper hands the kernel a `#[repr(C)]` struct laid out as the kernel's UAPI header lays it
//! out (sizes are checked at compile time), so the kernel reads and writes only memory the
//! wrapper owns for the length of the call. Every `unsafe` block carries a `// SAFETY:` comment
//! and every `unsafe fn` a `# Safety` section.
//!
//! Man pages: adjtimex(2), netdevice(7) with the kernel's `include/uapi/linux/ethtool.h`,
//! perf_event_open(2), and `include/uapi/linux/btrfs.h`.

#![allow(unsafe_code)]

use rustix::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use rustix::io::Errno;
use std::ffi::{c_int, c_long, c_void};
use std::mem::size_of;

/// The calling thread's `errno` after a libc call that failed.
fn last_errno() -> Errno {
    let e = std::io::Error::last_os_error();
    Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Hands the allocator's free memory back to the kernel: glibc's `malloc_trim(0)`, which
/// releases the free pages inside every arena, not only at a heap's top as `free` does.
/// Returns whether any memory was released; `false` where the C library is not glibc.
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes no pointer; it locks each arena while it walks it and
        // may be called from any thread at any time.
        unsafe { libc::malloc_trim(0) != 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Fixes glibc's mmap threshold at its default, 128 KiB (`mallopt(M_MMAP_THRESHOLD)`). Left
/// alone, glibc raises it (and the trim threshold, to twice that) to the size of each large
/// block freed, so that the next buffers of that size (a scrape's response, a large push)
/// come from a thread's heap and stay there as free space after their connection closes,
/// where `malloc_trim` does not reach (measured on the gateway: 2.9 MB of a 19 MB resident
/// size). Fixed, blocks that large get mappings of their own, given back when freed. Call
/// it first thing, before any thread starts. Returns whether it was set; `false` where the C
/// library is not glibc.
pub fn fix_mmap_threshold() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt takes no pointer and only sets a tunable of the allocator.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// `ioctl(fd, request, arg)` with a pointer argument.
///
/// # Safety
/// `arg` must be valid for reads and writes of as many bytes as the kernel transfers for
/// `request` on this kind of file, and nothing else may access that memory during the call.
unsafe fn ioctl_ptr(
    fd: BorrowedFd<'_>,
    request: libc::Ioctl,
    arg: *mut c_void,
) -> Result<(), Errno> {
    // SAFETY: the caller vouches for `arg`; `fd` is open for the duration of the borrow.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request, arg) };
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// adjtimex(2)

/// The kernel clock's state as `adjtimex(2)` reports it with `modes = 0` (read only). Fields
/// keep the kernel's meaning and units; see the man page's NOTES for the scaled ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timex {
    /// The call's return value: the clock state (`TIME_OK` 0 … `TIME_ERROR` 5).
    pub state: i32,
    /// Time offset, in microseconds or nanoseconds (`STA_NANO` in `status`).
    pub offset: i64,
    /// Frequency offset, ppm with a 16-bit fraction.
    pub freq: i64,
    /// Maximum error, microseconds.
    pub maxerror: i64,
    /// Estimated error, microseconds.
    pub esterror: i64,
    /// `STA_*` status bits.
    pub status: i32,
    /// PLL time constant.
    pub constant: i64,
    /// Microseconds between clock ticks.
    pub tick: i64,
    /// PPS frequency, ppm with a 16-bit fraction.
    pub ppsfreq: i64,
    /// PPS jitter, microseconds or nanoseconds.
    pub jitter: i64,
    /// PPS interval duration, seconds as a power of two.
    pub shift: i32,
    /// PPS stability, ppm with a 16-bit fraction.
    pub stabil: i64,
    /// PPS count of jitter limit exceeded events.
    pub jitcnt: i64,
    /// PPS count of calibration intervals.
    pub calcnt: i64,
    /// PPS count of calibration errors.
    pub errcnt: i64,
    /// PPS count of stability limit exceeded events.
    pub stbcnt: i64,
    /// TAI offset, seconds.
    pub tai: i32,
}

/// Reads the kernel clock's state: `adjtimex(2)` with `modes = 0`, which changes nothing.
///
/// # Errors
/// The call's errno (`EPERM` where a seccomp filter refuses it). Allocates nothing.
// `c_long` fields are `i64` on 64-bit targets and `i32` on others.
#[allow(clippy::unnecessary_cast)]
pub fn adjtimex() -> Result<Timex, Errno> {
    // SAFETY: `libc::timex` holds only integers (and a `timeval` of integers), for which all
    // zero bytes are a valid value; zero `modes` makes the call a pure read.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a live, exclusively borrowed `struct timex`, the type the call takes;
    // the kernel writes only within it.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return Err(last_errno());
    }
    Ok(Timex {
        state,
        offset: tx.offset as i64,
        freq: tx.freq as i64,
        maxerror: tx.maxerror as i64,
        esterror: tx.esterror as i64,
        status: tx.status,
        constant: tx.constant as i64,
        tick: tx.tick as i64,
        ppsfreq: tx.ppsfreq as i64,
        jitter: tx.jitter as i64,
        shift: tx.shift,
        stabil: tx.stabil as i64,
        jitcnt: tx.jitcnt as i64,
        calcnt: tx.calcnt as i64,
        errcnt: tx.errcnt as i64,
        stbcnt: tx.stbcnt as i64,
        tai: tx.tai,
    })
}

// ---------------------------------------------------------------------------------------------
// SIOCETHTOOL

const ETHTOOL_GSET: u32 = 0x1;
const ETHTOOL_GDRVINFO: u32 = 0x3;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETH_SS_STATS: u32 = 1;
/// Bytes per name in an `ETHTOOL_GSTRINGS` answer.
pub const ETH_GSTRING_LEN: usize = 32;

/// Bytes of `struct ifreq`'s union past its `ifr_data` pointer.
const IFREQ_PAD: usize = size_of::<libc::ifreq>() - 16 - size_of::<*mut c_void>();

/// `struct ifreq` with the `ifr_data` member of its union, padded to the union's full size.
#[repr(C)]
struct Ifreq {
    name: [u8; 16],
    data: *mut c_void,
    pad: [u8; IFREQ_PAD],
}

const _: () = assert!(size_of::<Ifreq>() == size_of::<libc::ifreq>());

/// `struct ethtool_drvinfo` (`ETHTOOL_GDRVINFO`): NUL-padded strings and counts.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DrvInfo {
    cmd: u32,
    /// Driver short name.
    pub driver: [u8; 32],
    /// Driver version.
    pub version: [u8; 32],
    /// Firmware version.
    pub fw_version: [u8; 32],
    /// Bus address (`0000:00:1f.6`).
    pub bus_info: [u8; 32],
    /// Expansion ROM version.
    pub erom_version: [u8; 32],
    reserved2: [u8; 12],
    /// Private flag count.
    pub n_priv_flags: u32,
    /// Number of `ETHTOOL_GSTATS` statistics.
    pub n_stats: u32,
    /// Self-test result count.
    pub testinfo_len: u32,
    /// EEPROM size.
    pub eedump_len: u32,
    /// Register dump size.
    pub regdump_len: u32,
}

const _: () = assert!(size_of::<DrvInfo>() == 196);

impl Default for DrvInfo {
    fn default() -> DrvInfo {
        DrvInfo {
            cmd: ETHTOOL_GDRVINFO,
            driver: [0; 32],
            version: [0; 32],
            fw_version: [0; 32],
            bus_info: [0; 32],
            erom_version: [0; 32],
            reserved2: [0; 12],
            n_priv_flags: 0,
            n_stats: 0,
            testinfo_len: 0,
            eedump_len: 0,
            regdump_len: 0,
        }
    }
}

/// The bytes of a NUL-padded C string field, up to its first NUL.
pub fn c_field(field: &[u8]) -> &[u8] {
    let end = memchr::memchr(0, field).unwrap_or(field.len());
    &field[..end]
}

/// `struct ethtool_cmd` (`ETHTOOL_GSET`): the legacy link settings, with 32-bit link mode masks.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkSettings {
    cmd: u32,
    /// Supported link modes and features (`ETHTOOL_LINK_MODE_*_BIT`, bits 0–31).
    pub supported: u32,
    /// Advertised link modes and features.
    pub advertising: u32,
    /// Speed in Mb/s, low 16 bits.
    pub speed: u16,
    /// `DUPLEX_*`.
    pub duplex: u8,
    /// `PORT_*`.
    pub port: u8,
    /// MDIO address.
    pub phy_address: u8,
    /// Deprecated transceiver type.
    pub transceiver: u8,
    /// `AUTONEG_DISABLE` 0 or `AUTONEG_ENABLE` 1.
    pub autoneg: u8,
    /// MDIO protocols supported.
    pub mdio_support: u8,
    /// Unused.
    pub maxtxpkt: u32,
    /// Unused.
    pub maxrxpkt: u32,
    /// Speed in Mb/s, high 16 bits.
    pub speed_hi: u16,
    /// MDI(-X) status.
    pub eth_tp_mdix: u8,
    /// MDI(-X) control.
    pub eth_tp_mdix_ctrl: u8,
    /// Link partner's advertised modes.
    pub lp_advertising: u32,
    reserved: [u32; 2],
}

const _: () = assert!(size_of::<LinkSettings>() == 44);

/// Largest number of bytes the kernel can write for one `ETHTOOL_GSTRINGS` or `ETHTOOL_GSTATS`
/// call, whatever the caller asked for: the kernel fills in the driver's *current* count, an
/// `int`, times 32 bytes per name or 8 per counter, after a 12- or 8-byte header. Kernels since
/// 4.13 refuse counts above `S32_MAX / entry size`; older ones computed the names' byte count
/// in 32 bits. Either way every write stays below 16 GiB, plus a page for the header.
const ETHTOOL_MAX_WRITE: usize = (16 << 30) + 4096;

/// Address space for `ETHTOOL_GSTRINGS`/`ETHTOOL_GSTATS` answers: [`ETHTOOL_MAX_WRITE`] bytes
/// reserved without access rights, of which a prefix is made readable and writable as large
/// as the expected answer needs.
///
/// The kernel sizes these answers by the driver's count *at the time of the call*, which may
/// have grown since the caller read it (queues added between two ioctls). A plain buffer sized
/// from the earlier count would then be overrun; here the excess lands in the reserved,
/// inaccessible remainder, the copy faults and the ioctl fails with `EFAULT`. No memory
/// outside the reservation can be written.
#[derive(Debug)]
struct Arena {
    base: *mut u8,
    /// Bytes at `base` that are mapped readable and writable.
    rw: usize,
}

// SAFETY: the mapping belongs to this value alone (no other pointer to it escapes except
// slices tied to a borrow of the value), and mappings are process-wide, not per thread.
unsafe impl Send for Arena {}

impl Arena {
    fn reserve() -> Result<Arena, Errno> {
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing; it
        // overlaps nothing existing. PROT_NONE with MAP_NORESERVE commits no memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ETHTOOL_MAX_WRITE,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(last_errno());
        }
        Ok(Arena { base: base.cast(), rw: 0 })
    }

    /// Makes the first `len` bytes readable and writable (rounded up to pages; never shrinks).
    fn ensure(&mut self, len: usize) -> Result<(), Errno> {
        if len <= self.rw {
            return Ok(());
        }
        let page = rustix::param::page_size();
        let want = len.checked_next_multiple_of(page).ok_or(Errno::NOMEM)?;
        if want > ETHTOOL_MAX_WRITE {
            return Err(Errno::NOMEM);
        }
        // SAFETY: `[base, base + want)` lies within the reservation this value owns.
        let r =
            unsafe { libc::mprotect(self.base.cast(), want, libc::PROT_READ | libc::PROT_WRITE) };
        if r < 0 {
            return Err(last_errno());
        }
        self.rw = want;
        Ok(())
    }

    /// The first `len` bytes, which must lie within the readable prefix.
    fn bytes(&self, len: usize) -> &[u8] {
        let len = len.min(self.rw);
        // SAFETY: `[base, base + len)` is mapped readable (`len <= rw`), anonymous pages are
        // zero-filled so every byte is initialized, and only `&mut self` methods write to it.
        unsafe { std::slice::from_raw_parts(self.base, len) }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the reservation made in `reserve`; no borrow of it can
        // outlive `self`.
        unsafe { libc::munmap(self.base.cast(), ETHTOOL_MAX_WRITE) };
    }
}

/// A socket for `SIOCETHTOOL` requests, with room for statistics answers.
#[derive(Debug)]
pub struct Ethtool {
    sock: OwnedFd,
    arena: Option<Arena>,
}

impl Ethtool {
    /// Opens the `AF_INET` datagram socket the requests go through.
    ///
    /// # Errors
    /// The `socket(2)` error.
    pub fn open() -> Result<Ethtool, Errno> {
        use rustix::net::{socket, AddressFamily, SocketType};
        let sock = socket(AddressFamily::INET, SocketType::DGRAM, None)?;
        Ok(Ethtool { sock, arena: None })
    }

    /// `ioctl(SIOCETHTOOL)` for interface `ifname` with the command block at `data`.
    ///
    /// # Safety
    /// `data` must be valid for reads and writes of every byte the command transfers, and
    /// nothing else may access that memory during the call.
    unsafe fn request(&self, ifname: &[u8], data: *mut c_void) -> Result<(), Errno> {
        let mut ifr = Ifreq { name: [0; 16], data, pad: [0; IFREQ_PAD] };
        // The kernel reads at most 15 name bytes (it NUL-terminates the 16th itself).
        let n = ifname.len().min(15);
        ifr.name[..n].copy_from_slice(&ifname[..n]);
        let req = libc::SIOCETHTOOL as libc::Ioctl;
        // SAFETY: `ifr` is a live `struct ifreq`, the block SIOCETHTOOL copies in and out;
        // the caller vouches for `data`, which the kernel follows for the command.
        unsafe { ioctl_ptr(self.sock.as_fd(), req, (&raw mut ifr).cast()) }
    }

    /// `ETHTOOL_GDRVINFO`: the driver's names, versions and statistics count.
    ///
    /// # Errors
    /// The ioctl's errno (`EOPNOTSUPP` for a device without ethtool support, `ENODEV`).
    pub fn driver_info(&self, ifname: &[u8]) -> Result<DrvInfo, Errno> {
        let mut info = DrvInfo::default();
        // SAFETY: `info` is a live `struct ethtool_drvinfo`, all that GDRVINFO transfers.
        unsafe { self.request(ifname, (&raw mut info).cast())? };
        Ok(info)
    }

    /// `ETHTOOL_GSET`: link modes supported and advertised, autonegotiation.
    ///
    /// # Errors
    /// The ioctl's errno.
    pub fn link_settings(&self, ifname: &[u8]) -> Result<LinkSettings, Errno> {
        let mut cmd = LinkSettings { cmd: ETHTOOL_GSET, ..LinkSettings::default() };
        // SAFETY: `cmd` is a live `struct ethtool_cmd`, all that GSET transfers.
        unsafe { self.request(ifname, (&raw mut cmd).cast())? };
        Ok(cmd)
    }

    /// Runs a GSTRINGS/GSTATS command whose answer is `header` bytes of `[cmd, a, count]`
    /// fields followed by `count` entries of `entry` bytes, expecting `count == n`. Returns the
    /// arena holding the answer.
    fn table(
        &mut self,
        ifname: &[u8],
        head: &[u32],
        entry: usize,
        n: u32,
    ) -> Result<&Arena, Errno> {
        if self.arena.is_none() {
            self.arena = Some(Arena::reserve()?);
        }
        let arena = self.arena.as_mut().ok_or(Errno::NOMEM)?;
        let header = head.len() * 4;
        let len = (n as usize).checked_mul(entry).and_then(|b| b.checked_add(header));
        arena.ensure(len.ok_or(Errno::NOMEM)?)?;
        for (i, word) in head.iter().enumerate() {
            // SAFETY: the header lies within the readable and writable prefix just ensured;
            // the arena is page-aligned, so each `u32` is aligned.
            unsafe { arena.base.cast::<u32>().add(i).write(*word) };
        }
        let base = arena.base;
        // SAFETY: `base` starts the arena's reservation. The kernel writes the header and the
        // driver's current count of entries; what fits the writable prefix lands there, and
        // anything beyond it lands in the reserved, inaccessible rest of the reservation
        // (ETHTOOL_MAX_WRITE bounds every write), where the copy faults with EFAULT. Nothing
        // else refers to the arena during the call (`&mut self`).
        unsafe { self.request(ifname, base.cast())? };
        let arena = self.arena.as_ref().ok_or(Errno::NOMEM)?;
        let got = u32::from_ne_bytes(word_at(arena.bytes(header), head.len() - 1));
        if got != n {
            // The driver's count changed since the caller read it.
            return Err(Errno::AGAIN);
        }
        Ok(arena)
    }

    /// `ETHTOOL_GSTRINGS` for the statistics names: `n` names of [`ETH_GSTRING_LEN`]
    /// NUL-padded bytes, end to end. `n` is [`DrvInfo::n_stats`] from just before.
    ///
    /// # Errors
    /// The ioctl's errno; `EAGAIN` when the driver's count is no longer `n`; `ENOMEM` when the
    /// answer's address space cannot be reserved. Reserves 16 GiB of address space (no memory)
    /// on first use; after that allocates nothing.
    pub fn stat_names(&mut self, ifname: &[u8], n: u32) -> Result<&[u8], Errno> {
        let head = [ETHTOOL_GSTRINGS, ETH_SS_STATS, n];
        let arena = self.table(ifname, &head, ETH_GSTRING_LEN, n)?;
        Ok(&arena.bytes(12 + n as usize * ETH_GSTRING_LEN)[12..])
    }

    /// `ETHTOOL_GSTATS`: the `n` statistics counters, in the order of
    /// [`Ethtool::stat_names`], appended to `out` (cleared first).
    ///
    /// # Errors
    /// As [`Ethtool::stat_names`].
    pub fn stat_values(&mut self, ifname: &[u8], n: u32, out: &mut Vec<u64>) -> Result<(), Errno> {
        out.clear();
        let head = [ETHTOOL_GSTATS, n];
        let arena = self.table(ifname, &head, 8, n)?;
        let bytes = &arena.bytes(8 + n as usize * 8)[8..];
        out.extend(
            bytes.chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]))),
        );
        Ok(())
    }
}

/// The `i`-th native-endian 4-byte word of `bytes` (zeros past the end).
fn word_at(bytes: &[u8], i: usize) -> [u8; 4] {
    let mut w = [0; 4];
    if let Some(s) = bytes.get(i * 4..i * 4 + 4) {
        w.copy_from_slice(s);
    }
    w
}

// ---------------------------------------------------------------------------------------------
// perf_event_open(2)

/// `struct perf_event_attr` in its first published size (`PERF_ATTR_SIZE_VER0`, 64 bytes),
/// which every kernel accepts and extends with zeros.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PerfEventAttr {
    /// `PERF_TYPE_*`.
    pub type_: u32,
    /// Ignored: [`perf_event_open`] sets it to this struct's size.
    pub size: u32,
    /// Event within the type.
    pub config: u64,
    /// Sampling period or frequency (unused for counting).
    pub sample_period: u64,
    /// `PERF_SAMPLE_*`.
    pub sample_type: u64,
    /// `PERF_FORMAT_*`: the layout `read(2)` returns.
    pub read_format: u64,
    /// The flag bits (`disabled` 1 << 0, `inherit` 1 << 1, `exclude_hv` 1 << 6, …).
    pub flags: u64,
    /// Wakeup events or watermark.
    pub wakeup_events: u32,
    /// Breakpoint type.
    pub bp_type: u32,
    /// Extension of `config`.
    pub config1: u64,
}

const _: () = assert!(size_of::<PerfEventAttr>() == 64);

/// `perf_event_open(attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC)`.
///
/// # Errors
/// The call's errno (`ENOENT` or `EOPNOTSUPP` for an event the CPU lacks, `EACCES` under
/// `perf_event_paranoid`).
pub fn perf_event_open(
    attr: &PerfEventAttr,
    pid: i32,
    cpu: i32,
    group: Option<BorrowedFd<'_>>,
    flags: u64,
) -> Result<OwnedFd, Errno> {
    const PERF_FLAG_FD_CLOEXEC: u64 = 1 << 3;
    // The kernel may write its own size back into `size` (E2BIG), so it gets a private copy.
    let mut attr = PerfEventAttr { size: size_of::<PerfEventAttr>() as u32, ..*attr };
    let group_fd = group.map_or(-1, |fd| fd.as_raw_fd());
    // SAFETY: `attr` is a live, exclusively borrowed attribute block of the size its `size`
    // field states, all that the kernel reads or writes; the other arguments are integers.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            (&raw mut attr).cast::<c_void>(),
            c_long::from(pid),
            c_long::from(cpu),
            c_long::from(group_fd),
            (flags | PERF_FLAG_FD_CLOEXEC) as libc::c_ulong,
        )
    };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: the call returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
}

/// A `PERF_EVENT_IOC_*` request that takes an integer argument.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PerfIoctl {
    /// `PERF_EVENT_IOC_ENABLE`.
    Enable,
    /// `PERF_EVENT_IOC_DISABLE`.
    Disable,
    /// `PERF_EVENT_IOC_RESET`.
    Reset,
}

/// `ioctl(fd, PERF_EVENT_IOC_*, flags)`; `flags` is 0 or `PERF_IOC_FLAG_GROUP` (1).
///
/// # Errors
/// The ioctl's errno.
pub fn perf_ioctl(fd: BorrowedFd<'_>, request: PerfIoctl, flags: u32) -> Result<(), Errno> {
    let request = match request {
        PerfIoctl::Enable => libc::_IO(b'$' as u32, 0),
        PerfIoctl::Disable => libc::_IO(b'$' as u32, 1),
        PerfIoctl::Reset => libc::_IO(b'$' as u32, 3),
    };
    // SAFETY: these requests take their argument by value (an integer, not a pointer), so the
    // kernel touches no user memory.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request, libc::c_ulong::from(flags)) };
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// btrfs

/// `struct btrfs_ioctl_fs_info_args` (1 KiB).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BtrfsFsInfo {
    /// Highest device id in use.
    pub max_id: u64,
    /// Number of devices.
    pub num_devices: u64,
    /// File system id.
    pub fsid: [u8; 16],
    /// Node size.
    pub nodesize: u32,
    /// Sector size.
    pub sectorsize: u32,
    /// Clone alignment.
    pub clone_alignment: u32,
    rest: [u32; 245],
}

const _: () = assert!(size_of::<BtrfsFsInfo>() == 1024);

/// `struct btrfs_ioctl_dev_info_args` (4 KiB).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BtrfsDevInfo {
    /// Device id.
    pub devid: u64,
    /// Device UUID.
    pub uuid: [u8; 16],
    /// Bytes allocated on the device.
    pub bytes_used: u64,
    /// Device size.
    pub total_bytes: u64,
    unused: [u64; 379],
    /// Device path, NUL-padded.
    pub path: [u8; 1024],
}

const _: () = assert!(size_of::<BtrfsDevInfo>() == 4096);

/// `struct btrfs_ioctl_get_dev_stats` (1 KiB + 8).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct BtrfsDevStats {
    devid: u64,
    nr_items: u64,
    flags: u64,
    values: [u64; 5],
    unused: [u64; 121],
}

const _: () = assert!(size_of::<BtrfsDevStats>() == 1032);

/// Checks that `fd` is the root directory of a mounted btrfs subvolume (inode 256 on a file
/// system with btrfs's magic), as the btrfs ioctls expect of the fd they are sent to.
///
/// # Errors
/// The `fstat`/`fstatfs` error, or `ENOTTY` when `fd` is not a btrfs subvolume root.
pub fn btrfs_check(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    const FIRST_FREE_OBJECTID: u64 = 256;
    let st = rustix::fs::fstat(fd)?;
    let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir();
    let fs = rustix::fs::fstatfs(fd)?;
    // `f_type` is signed on some targets; the magic is compared as the 32 bits it is.
    if !is_dir
        || st.st_ino != FIRST_FREE_OBJECTID
        || fs.f_type as u32 != libc::BTRFS_SUPER_MAGIC as u32
    {
        return Err(Errno::NOTTY);
    }
    Ok(())
}

/// `BTRFS_IOC_FS_INFO` on an fd of the file system (see [`btrfs_check`]).
///
/// # Errors
/// The ioctl's errno.
pub fn btrfs_fs_info(fd: BorrowedFd<'_>) -> Result<BtrfsFsInfo, Errno> {
    let mut arg = BtrfsFsInfo {
        max_id: 0,
        num_devices: 0,
        fsid: [0; 16],
        nodesize: 0,
        sectorsize: 0,
        clone_alignment: 0,
        rest: [0; 245],
    };
    // SAFETY: `arg` is a live 1 KiB `struct btrfs_ioctl_fs_info_args`, the size encoded in
    // the request; the kernel reads and writes only that.
    unsafe {
        ioctl_ptr(fd, libc::_IOR::<BtrfsFsInfo>(0x94, 31), (&raw mut arg).cast())?;
    }
    Ok(arg)
}

/// `BTRFS_IOC_DEV_INFO` for device `devid` (`ENODEV` for an unused id).
///
/// # Errors
/// The ioctl's errno.
pub fn btrfs_dev_info(fd: BorrowedFd<'_>, devid: u64) -> Result<BtrfsDevInfo, Errno> {
    let mut arg = BtrfsDevInfo {
        devid,
        uuid: [0; 16],
        bytes_used: 0,
        total_bytes: 0,
        unused: [0; 379],
        path: [0; 1024],
    };
    // SAFETY: `arg` is a live 4 KiB `struct btrfs_ioctl_dev_info_args`, the size encoded in
    // the request; the kernel reads and writes only that.
    unsafe {
        ioctl_ptr(fd, libc::_IOWR::<BtrfsDevInfo>(0x94, 30), (&raw mut arg).cast())?;
    }
    Ok(arg)
}

/// `BTRFS_IOC_GET_DEV_STATS` for device `devid`, without reset: the write, read, flush,
/// corruption and generation error counters, in that order.
///
/// # Errors
/// The ioctl's errno.
pub fn btrfs_dev_stats(fd: BorrowedFd<'_>, devid: u64) -> Result<[u64; 5], Errno> {
    let mut arg = BtrfsDevStats { devid, nr_items: 5, flags: 0, values: [0; 5], unused: [0; 121] };
    // SAFETY: `arg` is a live `struct btrfs_ioctl_get_dev_stats`, the size encoded in the
    // request; the kernel fills at most `nr_items` (5) values within it.
    unsafe {
        ioctl_ptr(fd, libc::_IOWR::<BtrfsDevStats>(0x94, 52), (&raw mut arg).cast())?;
    }
    Ok(arg.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_tunables_take() {
        // glibc accepts the threshold; malloc_trim may or may not find pages to release.
        assert_eq!(fix_mmap_threshold(), cfg!(all(target_os = "linux", target_env = "gnu")));
        let freed = vec![1u8; 1 << 20];
        drop(freed);
        release_free_memory();
    }

    #[test]
    fn ioctl_numbers_match_the_uapi_headers() {
        // As the C headers compute them on x86_64 and arm64 (the generic _IOC layout).
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        {
            assert_eq!(libc::_IOR::<BtrfsFsInfo>(0x94, 31) as u64, 0x8400_941f);
            assert_eq!(libc::_IOWR::<BtrfsDevInfo>(0x94, 30) as u64, 0xd000_941e);
            assert_eq!(libc::_IOWR::<BtrfsDevStats>(0x94, 52) as u64, 0xc408_9434);
            assert_eq!(libc::_IO(b'$' as u32, 0) as u64, 0x2400);
        }
    }

    #[test]
    fn adjtimex_reads() {
        match adjtimex() {
            Ok(tx) => assert!((0..=5).contains(&tx.state), "{tx:?}"),
            Err(e) => assert_eq!(e, Errno::PERM),
        }
    }

    #[test]
    fn ethtool_on_loopback() {
        let mut et = Ethtool::open().unwrap();
        // Loopback has no driver info on most kernels; either way no panic, and a missing
        // interface is ENODEV.
        let _ = et.driver_info(b"lo");
        assert_eq!(et.driver_info(b"nodegate-none").unwrap_err(), Errno::NODEV);
        assert_eq!(et.stat_names(b"nodegate-none", 4).unwrap_err(), Errno::NODEV);
        let mut v = vec![1];
        assert_eq!(et.stat_values(b"nodegate-none", 4, &mut v).unwrap_err(), Errno::NODEV);
        assert!(v.is_empty());
    }

    #[test]
    fn ethtool_stats_of_a_live_interface() {
        let Ok(dir) = std::fs::read_dir("/sys/class/net") else { return };
        let mut et = Ethtool::open().unwrap();
        for entry in dir.flatten() {
            let name = entry.file_name();
            let name = name.as_encoded_bytes();
            let Ok(info) = et.driver_info(name) else { continue };
            if info.n_stats == 0 {
                continue;
            }
            let n = info.n_stats;
            let names = et.stat_names(name, n).unwrap().to_vec();
            assert_eq!(names.len(), n as usize * ETH_GSTRING_LEN);
            let mut values = Vec::new();
            et.stat_values(name, n, &mut values).unwrap();
            assert_eq!(values.len(), n as usize);
            // A count one short: the kernel writes past it into the writable prefix's slack
            // or faults; either way the call reports the mismatch instead of trusting it.
            assert!(et.stat_values(name, n - 1, &mut values).is_err());
        }
    }

    #[test]
    fn perf_software_counter() {
        // Task clock of this thread: needs no PMU; may be refused by paranoia or seccomp.
        let attr = PerfEventAttr { type_: 1, config: 1, read_format: 3, ..Default::default() };
        let Ok(fd) = perf_event_open(&attr, 0, -1, None, 0) else { return };
        perf_ioctl(fd.as_fd(), PerfIoctl::Reset, 0).unwrap();
        perf_ioctl(fd.as_fd(), PerfIoctl::Enable, 0).unwrap();
        let mut x = 0u64;
        for i in 0..100_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        let mut buf = [0u8; 24];
        assert_eq!(rustix::io::read(&fd, &mut buf).unwrap(), 24);
        let enabled = u64::from_ne_bytes(buf[8..16].try_into().unwrap());
        assert!(enabled > 0);
    }

    #[test]
    fn btrfs_calls_refuse_other_file_systems() {
        let dir = rustix::fs::open(
            "/",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        // Unless / is btrfs, the check refuses it and the ioctls fail cleanly.
        if btrfs_check(dir.as_fd()).is_err() {
            assert!(btrfs_fs_info(dir.as_fd()).is_err());
            assert!(btrfs_dev_info(dir.as_fd(), 1).is_err());
            assert!(btrfs_dev_stats(dir.as_fd(), 1).is_err());
        }
    }
}
