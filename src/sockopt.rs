//! Integer socket options that std and tokio do not expose, shared by the server and load clients.

use std::os::fd::AsRawFd;

/// Sets an integer socket option (`setsockopt(fd, level, name, &value)`).
pub fn set_int(
    socket: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: the fd is borrowed from a live socket and the pointer refers to a live c_int whose
    // size is passed alongside.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Sets `SO_LINGER {on, 0}`: closing the socket then sends a TCP RST instead of a FIN, so the peer
/// sees a reset (WebSocket 1006, no close frame) as after a crash or a broken network path. Used
/// by the reference server's fault injection; set only just before the socket is dropped.
pub fn zero_linger(socket: &impl AsRawFd) -> std::io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the fd is borrowed from a live socket and the pointer refers to a live `linger`
    // whose size is passed alongside.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Defers the port choice of a socket bound to port 0 until `connect`, so the kernel picks a port
/// free towards that destination: many client sockets per source address stay cheap to open.
pub fn bind_address_no_port(socket: &impl AsRawFd) -> std::io::Result<()> {
    set_int(socket, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sets_and_reports_errors() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        super::set_int(&sock, libc::SOL_SOCKET, libc::SO_RCVBUF, 8192).unwrap();
        assert!(super::set_int(&sock, libc::SOL_SOCKET, -1, 1).is_err());
    }

    #[test]
    fn zero_linger_makes_close_a_reset() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        super::zero_linger(&accepted.as_raw_fd()).unwrap();
        drop(accepted);
        let err = client.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    }
}
