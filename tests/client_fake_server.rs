//! The client against a scripted fake SoupBinTCP server on 127.0.0.1: login,
//! sequenced data with its numbering, OUCH round trips, heartbeats both ways, end of
//! session, logout, and the failure answers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tickgate::client::{Client, ClientError, Event, LoginParams};
use tickgate::proto::ouch::*;
use tickgate::proto::soupbin::{
    Direction, LoginAccepted, LoginRejectReason, LoginRequest, Packet, Reassembler,
    encode_sequenced_with,
};
use tickgate::proto::wire::Alpha;

/// The server end of one connection: reads client packets, writes server packets.
struct FakeServer {
    stream: TcpStream,
    framer: Reassembler,
    /// Type bytes of the packets received, in order.
    received: Vec<char>,
    inbound: Vec<Inbound>,
}

impl FakeServer {
    fn accept(listener: &TcpListener) -> FakeServer {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        FakeServer {
            stream,
            framer: Reassembler::new(Direction::ClientToServer),
            received: Vec::new(),
            inbound: Vec::new(),
        }
    }

    /// Reads until at least one more packet arrived; false at end of stream.
    fn read_some(&mut self) -> bool {
        let mut buf = [0u8; 512];
        let n = match self.stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let (received, inbound) = (&mut self.received, &mut self.inbound);
        self.framer
            .feed(&buf[..n], |packet| {
                if let Packet::UnsequencedData(bytes) = packet {
                    inbound.push(Inbound::decode(bytes).unwrap());
                }
                received.push(char::from(packet.packet_type()));
                ControlFlow::Continue(())
            })
            .unwrap();
        true
    }

    fn read_until(&mut self, mut done: impl FnMut(&FakeServer) -> bool) {
        while !done(self) {
            assert!(
                self.read_some(),
                "client went away; got {:?}",
                self.received
            );
        }
    }

    fn expect_login(&mut self) -> LoginRequest {
        let mut buf = [0u8; 54];
        self.stream.read_exact(&mut buf).unwrap();
        match tickgate::proto::soupbin::decode_frame(&buf, Direction::ClientToServer) {
            Ok(Some((Packet::LoginRequest(login), 54))) => login,
            other => panic!("expected a login request, got {other:?}"),
        }
    }

    fn send(&mut self, packet: Packet<'_>) {
        let mut buf = [0u8; 256];
        let len = packet.encode(&mut buf).unwrap();
        self.stream.write_all(&buf[..len]).unwrap();
    }

    fn accept_login(&mut self, sequence_number: u64) {
        self.send(Packet::LoginAccepted(LoginAccepted {
            session: Alpha::padded("SESSION1"),
            sequence_number,
        }));
    }

    fn send_sequenced(&mut self, message: &Outbound) {
        let mut buf = [0u8; 256];
        let len = encode_sequenced_with(&mut buf, |out| message.encode(out)).unwrap();
        self.stream.write_all(&buf[..len]).unwrap();
    }
}

fn serve(script: impl FnOnce(FakeServer) + Send + 'static) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || script(FakeServer::accept(&listener)));
    (addr, handle)
}

fn canceled(user_ref_num: u32) -> Outbound {
    Outbound::OrderCanceled(OrderCanceled {
        timestamp: 5,
        user_ref_num,
        quantity: 100,
        reason: CancelReason::UserRequested,
        options: Options::NONE,
    })
}

fn login() -> LoginParams {
    LoginParams::new("DEMO1", "secret")
}

#[test]
fn login_sends_credentials_and_requested_sequence_then_numbers_messages_from_the_accepted_one() {
    let (addr, server) = serve(|mut s| {
        let login = s.expect_login();
        assert_eq!(
            (login.username, login.password),
            (Alpha::padded("DEMO1"), Alpha::padded("secret"))
        );
        assert_eq!(login.requested_sequence_number, 5);
        s.accept_login(5);
        for n in 1..=3 {
            s.send_sequenced(&canceled(n));
        }
        s.send(Packet::EndOfSession);
    });
    let mut client = Client::connect(&addr, &login().from_sequence(5)).unwrap();
    assert_eq!(client.session(), Alpha::padded("SESSION1"));
    for n in 1..=3u32 {
        let expected = Event::Sequenced {
            sequence_number: u64::from(n) + 4,
            message: canceled(n),
        };
        assert_eq!(client.recv().unwrap(), expected);
    }
    assert_eq!(client.recv().unwrap(), Event::EndOfSession);
    assert_eq!(client.next_sequence_number(), 8);
    server.join().unwrap();
}

#[test]
fn login_rejected_is_reported_with_its_reason() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.send(Packet::LoginRejected(LoginRejectReason::NotAuthorized));
    });
    let result = Client::connect(&addr, &login());
    assert!(
        matches!(
            result,
            Err(ClientError::LoginRejected(LoginRejectReason::NotAuthorized))
        ),
        "{result:?}"
    );
    server.join().unwrap();
}

#[test]
fn typed_order_helpers_send_ouch_with_strictly_increasing_user_ref_nums() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.accept_login(1);
        s.read_until(|s| s.inbound.len() == 4);
        let urns: Vec<_> = s.inbound.iter().map(Inbound::new_user_ref_num).collect();
        assert_eq!(urns, [Some(1), Some(2), None, Some(3)]);
        let Inbound::EnterOrder(order) = s.inbound[0] else {
            panic!("not an order")
        };
        assert_eq!(
            (order.side, order.quantity, order.price),
            (Side::Buy, 100, Price(1_500_000))
        );
        s.send_sequenced(&canceled(1));
    });
    let mut client = Client::connect(&addr, &login()).unwrap();
    let symbol = Symbol::padded("AAPL");
    assert_eq!(
        client
            .enter_order(Side::Buy, 100, symbol, Price(1_500_000))
            .unwrap(),
        1
    );
    assert_eq!(client.replace(1, 200, Price(1_500_100)).unwrap(), 2);
    client.cancel(2, 0).unwrap();
    assert_eq!(
        client
            .mass_cancel(Alpha::padded("FIRM"), Alpha::SPACES)
            .unwrap(),
        3
    );
    assert!(matches!(
        client.recv().unwrap(),
        Event::Sequenced {
            sequence_number: 1,
            ..
        }
    ));
    server.join().unwrap();
}

#[test]
fn idle_client_sends_heartbeats_and_skips_server_heartbeats() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.accept_login(1);
        s.send(Packet::ServerHeartbeat);
        s.send(Packet::Debug(b"note"));
        s.read_until(|s| s.received.iter().filter(|&&k| k == 'R').count() >= 2);
        s.send_sequenced(&canceled(9));
    });
    let mut client = Client::connect(&addr, &login()).unwrap();
    client.set_heartbeat_interval(Duration::from_millis(30));
    assert_eq!(
        client.recv().unwrap(),
        Event::Sequenced {
            sequence_number: 1,
            message: canceled(9)
        }
    );
    server.join().unwrap();
}

#[test]
fn recv_event_reports_server_heartbeats() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.accept_login(1);
        s.send(Packet::ServerHeartbeat);
    });
    let mut client = Client::connect(&addr, &login()).unwrap();
    assert_eq!(client.recv_event().unwrap(), Event::Heartbeat);
    server.join().unwrap();
}

#[test]
fn silent_server_is_a_heartbeat_timeout() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.accept_login(1);
        thread::sleep(Duration::from_millis(400));
    });
    let params = LoginParams {
        heartbeat_timeout_ms: 150,
        ..login()
    };
    let mut client = Client::connect(&addr, &params).unwrap();
    assert!(matches!(client.recv(), Err(ClientError::HeartbeatTimeout)));
    server.join().unwrap();
}

#[test]
fn spin_mode_receives_a_burst_split_across_reads() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.accept_login(1);
        for n in 1..=200 {
            s.send_sequenced(&canceled(n));
        }
        s.read_until(|s| s.inbound.len() == 1);
    });
    let mut client = Client::connect(&addr, &login()).unwrap();
    client.set_spin(true).unwrap();
    for n in 1..=200u32 {
        assert_eq!(
            client.recv().unwrap(),
            Event::Sequenced {
                sequence_number: u64::from(n),
                message: canceled(n)
            }
        );
    }
    client.account_query().unwrap();
    server.join().unwrap();
}

#[test]
fn logout_sends_logout_request_and_waits_for_the_close() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.accept_login(1);
        s.read_until(|s| s.received.contains(&'O'));
        s.send(Packet::EndOfSession);
    });
    let client = Client::connect(&addr, &login()).unwrap();
    client.logout().unwrap();
    server.join().unwrap();
}

#[test]
fn server_closing_the_connection_is_reported_as_closed() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.accept_login(1);
    });
    let mut client = Client::connect(&addr, &login()).unwrap();
    server.join().unwrap();
    assert!(matches!(client.recv(), Err(ClientError::Closed)));
}

#[test]
fn malformed_sequenced_message_is_an_error_that_consumes_its_number() {
    let (addr, server) = serve(|mut s| {
        s.expect_login();
        s.accept_login(10);
        s.send(Packet::SequencedData(b"Cshort"));
        s.send_sequenced(&canceled(1));
    });
    let mut client = Client::connect(&addr, &login()).unwrap();
    let error = client.recv().unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Ouch {
                sequence_number: 10,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        client.recv().unwrap(),
        Event::Sequenced {
            sequence_number: 11,
            message: canceled(1)
        }
    );
    server.join().unwrap();
}
