//! The body of one big argument, read into memory of its own as its bytes
//! arrive, which then becomes the argument (and the stored value) without
//! a copy.
//!
//! Redis sizes such a buffer from the length the client claims; a claim
//! alone allocates nothing here beyond one step. Each step is made from
//! what has arrived: four times what is buffered so far, or what the
//! socket already holds if that is more, never past the claimed length, so
//! a complete body has no slack for the stored value to keep alive.
//!
//! Small bodies grow on the heap, where freed memory is reused and already
//! paged in (1 MB values written over and over fault nothing). Once a body
//! passes [`MAP_FROM_BYTES`] it moves to an anonymous mapping that grows
//! with `mremap`: the kernel moves page tables instead of the bytes being
//! copied, so a 200 MB argument costs its own page faults and no more, as
//! in Redis, where copying at each step would fault in a third more and
//! spend most of the read on `memcpy`.

use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;

use bytes::Bytes;

/// The first step, and the smallest.
const MIN_STEP_BYTES: usize = 32 * 1024;
/// Bodies growing past this move to a mapping of their own.
pub const MAP_FROM_BYTES: usize = 16 * 1024 * 1024;

pub struct BigArg {
    buf: Buf,
    /// Payload plus CRLF: the bytes this body needs in all.
    total: usize,
}

enum Buf {
    Heap(Vec<u8>),
    Mapped(Mapping),
}

impl BigArg {
    /// A body of `total` bytes (payload and CRLF), of which `arrived` came
    /// with the request's head.
    pub fn new(total: usize, arrived: &[u8]) -> BigArg {
        let arrived = &arrived[..arrived.len().min(total)];
        let mut heap = Vec::with_capacity(total.min(MIN_STEP_BYTES.max(arrived.len())));
        heap.extend_from_slice(arrived);
        BigArg {
            buf: Buf::Heap(heap),
            total,
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> usize {
        match &self.buf {
            Buf::Heap(v) => v.len(),
            Buf::Mapped(m) => m.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory held.
    pub fn capacity(&self) -> usize {
        match &self.buf {
            Buf::Heap(v) => v.capacity(),
            Buf::Mapped(m) => m.cap,
        }
    }

    /// Bytes still to come.
    pub fn missing(&self) -> usize {
        self.total - self.len()
    }

    /// Reads from `fd` as much as fits and is still missing, first making
    /// room if there is none. Returns the bytes read and how many were
    /// asked for (a read that got all it asked may have left more).
    pub fn read_from(&mut self, fd: RawFd) -> io::Result<(usize, usize)> {
        if self.capacity() == self.len() {
            self.grow(socket_pending(fd))?;
        }
        let (spare, len) = match &mut self.buf {
            Buf::Heap(v) => (v.spare_capacity_mut().as_mut_ptr().cast::<u8>(), v.len()),
            Buf::Mapped(m) => {
                // SAFETY: `m.len <= m.cap`, so the pointer stays within
                // (or one past) the mapping.
                (unsafe { m.ptr.as_ptr().add(m.len) }, m.len)
            }
        };
        let want = self.missing().min(self.capacity() - len);
        // SAFETY: `spare` points at `want` or more unused bytes of memory
        // this body owns; read(2) writes at most `want` of them.
        let n = unsafe { libc::read(fd, spare.cast(), want) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        match &mut self.buf {
            // SAFETY: the first `len + n` bytes are now initialized and
            // within capacity.
            Buf::Heap(v) => unsafe { v.set_len(len + n) },
            Buf::Mapped(m) => m.len += n,
        }
        Ok((n, want))
    }

    /// Makes room for the next step: four times what is here, or what the
    /// socket holds (`pending`) if more, capped at the body's size.
    fn grow(&mut self, pending: usize) -> io::Result<()> {
        let len = self.len();
        let step = (3 * len).max(MIN_STEP_BYTES).max(pending);
        let cap = len + step.min(self.missing());
        match &mut self.buf {
            Buf::Heap(v) if cap < MAP_FROM_BYTES => v.reserve_exact(cap - len),
            Buf::Heap(v) => {
                let mut m = Mapping::new(cap)?;
                // SAFETY: the new mapping has room for `cap >= v.len()`
                // bytes and does not overlap the vector.
                unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), m.ptr.as_ptr(), v.len()) };
                m.len = v.len();
                self.buf = Buf::Mapped(m);
                // The heap steps, megabytes by now, go back at once.
                crate::alloc::return_free_memory();
            }
            Buf::Mapped(m) => m.grow(cap)?,
        }
        Ok(())
    }

    /// The payload, once every byte has arrived (the CRLF after it is
    /// dropped, unchecked, as Redis does).
    pub fn into_bytes(self) -> Bytes {
        let payload = self.total - 2;
        match self.buf {
            Buf::Heap(mut v) => {
                v.truncate(payload);
                Bytes::from(v)
            }
            Buf::Mapped(m) => Bytes::from_owner(m).slice(..payload),
        }
    }
}

/// Bytes waiting in the socket's receive queue (0 if it cannot say).
fn socket_pending(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer we pass.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if rc == 0 { n.max(0) as usize } else { 0 }
}

/// An anonymous private mapping owned by one body, then by the `Bytes` it
/// becomes; unmapped when dropped.
struct Mapping {
    ptr: NonNull<u8>,
    /// Bytes written.
    len: usize,
    /// Bytes mapped.
    cap: usize,
}

// SAFETY: the mapping is plain memory owned by this value alone; once it is
// inside `Bytes` it is only read.
unsafe impl Send for Mapping {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(cap: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                cap,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        crate::alloc::note_mapped(cap);
        let ptr = NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { ptr, len: 0, cap })
    }

    fn grow(&mut self, cap: usize) -> io::Result<()> {
        // SAFETY: `ptr`/`self.cap` describe a mapping this value owns; with
        // MREMAP_MAYMOVE the kernel may move it, and the new address
        // replaces the old one, which is no longer used.
        let p = unsafe {
            libc::mremap(
                self.ptr.as_ptr().cast(),
                self.cap,
                cap,
                libc::MREMAP_MAYMOVE,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        crate::alloc::note_mapped(cap - self.cap);
        self.ptr =
            NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mremap returned null"))?;
        self.cap = cap;
        Ok(())
    }
}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of the mapping were written by
        // read(2) and stay mapped for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is owned by this value and no longer used.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.cap) };
        crate::alloc::note_unmapped(self.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    /// Sends `payload` plus CRLF through a socket pair in pieces and reads
    /// it back as a body, checking every step's size.
    fn round_trip(payload: &[u8], head: usize) -> Bytes {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        rx.set_nonblocking(true).unwrap();
        let mut wire = payload.to_vec();
        wire.extend_from_slice(b"\r\n");
        let mut body = BigArg::new(wire.len(), &wire[..head]);
        let mut sent = head;
        while body.missing() > 0 {
            if sent < wire.len() {
                let end = (sent + 100_000).min(wire.len());
                tx.write_all(&wire[sent..end]).unwrap();
                sent = end;
            }
            let before = body.len();
            match body.read_from(rx.as_raw_fd()) {
                Ok((n, _)) => assert_eq!(body.len(), before + n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(body.capacity() <= wire.len(), "grew past the body");
        }
        assert_eq!(body.capacity(), wire.len(), "slack left");
        body.into_bytes()
    }

    #[test]
    fn small_and_mapped_bodies_arrive_whole() {
        for (size, head) in [(40_000, 0), (40_000, 5000), (MAP_FROM_BYTES + 12_345, 7)] {
            let payload: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let got = round_trip(&payload, head);
            assert_eq!(got.len(), payload.len());
            assert!(got[..] == payload[..], "bytes differ at size {size}");
        }
    }
}
