//! UDP multicast sockets: the publisher's sender and a receiver joined to the group.
//!
//! The outgoing interface is chosen by address (`IP_MULTICAST_IF`), so multicast on
//! `lo` (interface 127.0.0.1) needs no multicast route.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd};

/// How the publisher's socket sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastTarget {
    /// Multicast group and port.
    pub group: SocketAddrV4,
    /// Address of the interface to send on (127.0.0.1: `lo`).
    pub interface: Ipv4Addr,
    /// IP TTL (1: this subnet only).
    pub ttl: u32,
    /// Deliver to listeners on this host too (needed on `lo`).
    pub loopback: bool,
}

fn setsockopt<T>(sock: &UdpSocket, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live `T` for the call, and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            value as *const T as *const libc::c_void,
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn in_addr(addr: Ipv4Addr) -> libc::in_addr {
    libc::in_addr {
        s_addr: u32::from_ne_bytes(addr.octets()),
    }
}

/// A UDP socket bound to `interface` (ephemeral port) that sends to `target.group`
/// through that interface.
///
/// # Errors
/// The interface address is not local, or a socket option is refused.
pub fn sender(target: &MulticastTarget) -> io::Result<UdpSocket> {
    let sock = UdpSocket::bind((target.interface, 0))?;
    setsockopt(
        &sock,
        libc::IPPROTO_IP,
        libc::IP_MULTICAST_IF,
        &in_addr(target.interface),
    )?;
    sock.set_multicast_ttl_v4(target.ttl)?;
    sock.set_multicast_loop_v4(target.loopback)?;
    Ok(sock)
}

/// A UDP socket bound to `group` (port 0: an ephemeral one, see `local_addr`) with
/// `SO_REUSEADDR`, so several listeners on one host share the port, joined to the group
/// on `interface`.
///
/// # Errors
/// Socket creation, binding or the join failed (e.g. no such interface address).
pub fn receiver(group: SocketAddrV4, interface: Ipv4Addr) -> io::Result<UdpSocket> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh socket this function owns; the UdpSocket closes it.
    let sock = unsafe { UdpSocket::from_raw_fd(fd) };
    setsockopt(&sock, libc::SOL_SOCKET, libc::SO_REUSEADDR, &1i32)?;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: group.port().to_be(),
        sin_addr: in_addr(*group.ip()),
        sin_zero: [0; 8],
    };
    // SAFETY: `addr` is a valid sockaddr_in and its size is passed.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    sock.join_multicast_v4(group.ip(), &interface)?;
    Ok(sock)
}
